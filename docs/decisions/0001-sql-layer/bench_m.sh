#!/bin/bash
# (a'') the builder's models in a fresh process on a copy of the raw-only file
cd /tmp/sqllayer && . ./env.sh
i=$1
echo "m$i start $(date +%T) load $(cut -d' ' -f1-3 /proc/loadavg)" >> runs/bench.log
rm -rf runs/mo_$i; mkdir -p runs/mo_$i; cp runs/raw_only.duckdb runs/mo_$i/tradewh.duckdb
/usr/bin/time -v /work/main/.venv/bin/python port/models_only.py runs/mo_$i/tradewh.duckdb > runs/mo_$i.log 2> runs/mo_$i.err
echo "m$i end $(date +%T) $(grep -E 'Elapsed|Maximum res' runs/mo_$i.err | tr -s ' \t' ' ' | tr '\n' ' ')" >> runs/bench.log
