#!/bin/bash
# (a') the builder with a checkpoint after the raw load
cd /tmp/sqllayer && . ./env.sh
i=$1
echo "k$i start $(date +%T) load $(cut -d' ' -f1-3 /proc/loadavg)" >> runs/bench.log
rm -f runs/ckpt_$i.duckdb
/usr/bin/time -v /work/main/.venv/bin/python port/build_project_ckpt.py runs/ckpt_$i.duckdb > runs/ckpt_$i.log 2> runs/ckpt_$i.err
echo "k$i end $(date +%T) $(grep -E 'Elapsed|Maximum res' runs/ckpt_$i.err | tr -s ' \t' ' ' | tr '\n' ' ')" >> runs/bench.log
