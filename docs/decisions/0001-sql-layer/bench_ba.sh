#!/bin/bash
# one round in the other order: (b) first, then (a), then (c)
cd /tmp/sqllayer && . ./env.sh
PY=/work/main/.venv/bin/python
i=$1
echo "b$i start $(date +%T) load $(cut -d' ' -f1-3 /proc/loadavg)" >> runs/bench.log
rm -rf runs/dbt_$i; mkdir -p runs/dbt_$i
/usr/bin/time -v $PY port/load_raw.py runs/dbt_$i/tradewh.duckdb > runs/loadraw_$i.log 2> runs/loadraw_$i.err
echo "b$i raw $(date +%T) $(grep -E 'Elapsed|Maximum res' runs/loadraw_$i.err | tr -s ' \t' ' ' | tr '\n' ' ')" >> runs/bench.log
(cd dbtproj && TRADEWH_DBT_TARGET=/tmp/sqllayer/runs/dbt_$i/tradewh.duckdb /usr/bin/time -v ../dbtenv/bin/dbt build > ../runs/dbt_$i.log 2> ../runs/dbt_$i.err)
echo "b$i dbt $(date +%T) $(grep -E 'Elapsed|Maximum res' runs/dbt_$i.err | tr -s ' \t' ' ' | tr '\n' ' ') $(grep -o 'PASS=[0-9]* WARN=[0-9]* ERROR=[0-9]*' runs/dbt_$i.log)" >> runs/bench.log
echo "a$i start $(date +%T) load $(cut -d' ' -f1-3 /proc/loadavg)" >> runs/bench.log
rm -f runs/proj_$i.duckdb
/usr/bin/time -v $PY port/build_project.py runs/proj_$i.duckdb > runs/proj_$i.log 2> runs/proj_$i.err
echo "a$i end $(date +%T) $(grep -E 'Elapsed|Maximum res' runs/proj_$i.err | tr -s ' \t' ' ' | tr '\n' ' ')" >> runs/bench.log
