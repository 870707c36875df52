#!/bin/bash
# (c) SQLMesh: a fresh copy of the raw-only file (the same raw load as (b)) and fresh state, `sqlmesh plan --auto-apply`
cd /tmp/sqllayer && . ./env.sh
i=$1
echo "c$i start $(date +%T) load $(cut -d' ' -f1-3 /proc/loadavg)" >> runs/bench.log
rm -rf runs/sm_$i; mkdir -p runs/sm_$i; cp runs/raw_only.duckdb runs/sm_$i/tradewh.duckdb
(cd smproj && TRADEWH_SQLMESH_TARGET=/tmp/sqllayer/runs/sm_$i/tradewh.duckdb TRADEWH_SQLMESH_STATE=/tmp/sqllayer/runs/sm_$i/state.duckdb SQLMESH__DISABLE_ANONYMIZED_ANALYTICS=1 \
  /usr/bin/time -v ../smenv/bin/sqlmesh plan --auto-apply --no-prompts > ../runs/sm_$i.log 2> ../runs/sm_$i.err)
echo "c$i sqlmesh $(date +%T) $(grep -E 'Elapsed|Maximum res|Exit status' runs/sm_$i.err | tr -s ' \t' ' ' | tr '\n' ' ') $(grep -c 'audits passed 26' runs/sm_$i.log)" >> runs/bench.log
