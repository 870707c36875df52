# ruff: noqa: E501  (a measurement script of ADR 0001: long SQL and report lines)
"""Phases of each run from its logs: (a) the builder's log lines, (b) dbt's, (c) SQLMesh's."""

import datetime as dt
import re
from pathlib import Path

R = Path("/tmp/sqllayer/runs")


def ts(line):
    return dt.datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f")


def elapsed(err):
    m = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\d+):([\d.]+)", err)
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", err)
    return int(m.group(1)) * 60 + float(m.group(2)), int(rss.group(1)) / 1024


HEAVY = ("fct_trade_figure", "goods_composition", "trade_balance_vintages")
for err in sorted(R.glob("proj_*.err")):
    text = err.read_text()
    if "Elapsed" not in text:
        continue
    lines = [line for line in text.splitlines() if line[:2] == "20"]
    wall, rss = elapsed(text)
    start = next((ts(line) for line in lines if line.endswith(" start")), None)
    raw_end = ts([line for line in lines if "raw.wdi loaded" in line][0])
    models = [line for line in lines if re.search(r"\d+/24 ", line)]
    per = {
        re.search(r"\d+/24 (\S+)", line).group(1): float(re.search(r", ([\d.]+) s\)", line).group(1)) for line in models
    }
    fin = [ts(line) for line in lines if "finish:" in line]
    end = next((ts(line) for line in lines if line.endswith(" end")), None)
    first = per[re.search(r"1/24 (\S+)", models[0]).group(1)]
    span = (ts(models[-1]) - ts(models[0])).total_seconds() + first
    heavy = {k.split(".")[1]: v for k, v in per.items() if k.split(".")[1] in HEAVY}
    print(
        f"{err.stem}: wall {wall:.1f} s, peak RSS {rss:.0f} MiB;",
        f"raw load {(raw_end - start).total_seconds():.1f} s;" if start else "",
        f"models {span:.1f} s (sum {sum(per.values()):.1f});",
        " ".join(f"{k} {v:.1f}" for k, v in heavy.items()),
        f"; check {(fin[0] - ts(models[-1])).total_seconds():.1f} s; stamp {(fin[1] - fin[0]).total_seconds():.1f} s; checkpoint+close {(end - fin[1]).total_seconds():.1f} s"
        if fin and end
        else "",
    )
for log in sorted(R.glob("dbt_*.log")):
    text = re.sub(r"\x1b\[[0-9;]*m", "", log.read_text())
    err = R / (log.stem + ".err")
    if not err.exists() or "Elapsed" not in err.read_text():
        continue
    wall, rss = elapsed(err.read_text())
    raw = R / f"loadraw_{log.stem.split('_')[1]}.err"
    rw = elapsed(raw.read_text()) if raw.exists() else (None, None)
    models = {
        m.group(1): float(m.group(2))
        for m in re.finditer(r"OK created sql \w+ model (\S+) \.* \[OK in ([\d.]+)s\]", text)
    }
    tests = [float(m.group(1)) for m in re.finditer(r"PASS trade_figure\S* .*\[PASS in ([\d.]+)s\]", text)]
    fin = re.search(r"in 0 hours (\d+) minutes and ([\d.]+) seconds", text)
    hook = re.search(r"OK hook: .*\[OK in ([\d.]+)s\]", text)
    run = int(fin.group(1)) * 60 + float(fin.group(2))
    print(
        f"{log.stem}: raw load {rw[0]} s (RSS {rw[1] and round(rw[1])} MiB); dbt wall {wall:.1f} s, peak RSS {rss:.0f} MiB; dbt's own run {run:.1f} s "
        f"(start-up/parse {wall - run:.1f} s); models {sum(models.values()):.1f} s;",
        " ".join(f"{k} {v:.1f}" for k, v in models.items() if k.split(".")[1] in HEAVY),
        f"; tests {sum(tests):.1f} s ({len(tests)}); stamp hook {hook and hook.group(1)} s",
    )
for log in sorted(R.glob("sm_*.log")):
    err = R / (log.stem + ".err")
    if not err.exists() or "Elapsed" not in err.read_text():
        continue
    text = log.read_text()
    wall, rss = elapsed(err.read_text())
    per = {m.group(1): float(m.group(2)) for m in re.finditer(r"\] (\S+)\s+\[[^\]]*\]\s*\n([\d.]+)s", text)}
    print(
        f"{log.stem}: sqlmesh wall {wall:.1f} s, peak RSS {rss:.0f} MiB; model batches {sum(per.values()):.1f} s;",
        " ".join(f"{k} {v:.1f}" for k, v in per.items() if k.split(".")[1] in HEAVY),
    )
