"""Issue 22's baselines beside bare DuckDB and tradewh: the section of BENCHMARKS.md, and its own run.

``benchmarks/run.py`` measures ``polars`` (``benchmarks/polars_parquet.py``) and ``dlt``
(``benchmarks/dlt_pipeline.py``) in every repeat right after (a), on the same file, each a fresh process of the
bench-only environment ``.venv-bench`` (``make bench-env``), timed and measured as every other case (wall from
spawn to exit, GNU time's peak RSS). This module turns those runs into the section between the
``<!-- baselines -->`` markers: medians, the ratios of tradewh against dlt and bare DuckDB (of the medians, and the
median of the ratios paired within a repeat, which a busy machine disturbs less), and issue 22's targets 1 and 2.

``benchmarks/run.py --baselines-only --rows N... --repeat R`` runs only the cases the section needs ((a), polars,
dlt, (b), (b) with the project's Prefect server), interleaved, and writes the section (the rest of the file stays
as it is) and ``benchmarks/results/baselines.json``, where the sizes of an earlier such run that this one did not
measure are kept, each with its own date, command and load average. A size's ``notes`` in that file (a list of
sentences, written by hand: what the figures cannot say) are printed under its reasons; a new run of that size
drops them with its old figures.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shlex
import statistics
from pathlib import Path
from typing import Any

BEGIN, END = "<!-- baselines: begin -->", "<!-- baselines: end -->"
CASES = ("a", "polars", "dlt", "b", "b_srv")  # what --baselines-only measures, in this order in each repeat
WHAT = {
    "polars": "CSV -> Parquet only: the floor, not the same work",
    "a": "CSV -> Parquet -> table, rules, quarantine with line numbers, uniqueness",
    "dlt": "load only: no rules, no quarantine, no marts",
    "b": "everything: fetch, rules, quarantine, lake, marts, check, publish; Prefect's server started inside",
    "b_srv": "the same, the project's Prefect server already running",
}
NAMES = {
    "polars": "polars `scan_csv` -> `sink_parquet` (zstd)",
    "a": "bare DuckDB (`benchmarks/bare_duckdb.py`)",
    "dlt": "dlt (pyarrow batches -> Parquet -> DuckDB destination)",
    "b": "`tradewh load`, fresh home",
    "b_srv": "`tradewh load`, fresh home, server running",
}
TARGET_ROWS, SMALL_ROWS, GIB_MIB = 10_000_000, 1_000_000, 1024


def _ok(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in runs if r.get("returncode") == 0 and not r.get("killed")]


def _median(runs: list[dict[str, Any]], key: str = "wall_s") -> float | None:
    values = [r[key] for r in _ok(runs)]
    return statistics.median(values) if values else None


def cpu_text(runs: list[dict[str, Any]]) -> str:
    """'61.2 (1.45)': the median CPU seconds of the runs and the median of their cores busy (CPU over wall, each run);
    '—' when a run has no CPU recorded (results from before it was measured)."""
    ok = _ok(runs)
    if not ok or any(r.get("cpu_s") is None for r in ok):
        return "—"
    cpu = statistics.median(r["cpu_s"] for r in ok)
    cores = statistics.median(r["cpu_s"] / r["wall_s"] for r in ok if r["wall_s"])
    return f"{cpu:.1f} ({cores:.2f})"


def _repeat(run: dict[str, Any]) -> str:
    return Path(run.get("log", "")).stem.split("-", 1)[-1]  # '<rows>-<repeat>' from '<key>-<rows>-<repeat>.log'


def paired_ratio(top: list[dict[str, Any]], bottom: list[dict[str, Any]]) -> tuple[float | None, list[float]]:
    """The median of ``top / bottom`` over the repeats where both ran, and the ratios themselves."""
    below = {_repeat(r): r["wall_s"] for r in _ok(bottom)}
    ratios = [r["wall_s"] / below[_repeat(r)] for r in _ok(top) if below.get(_repeat(r))]
    return (statistics.median(ratios) if ratios else None), ratios


def _x(v: float | None) -> str:
    return "—" if v is None else f"{v:.2f}x"


def ratio_text(m: dict[str, list[dict[str, Any]]], top: str, bottom: str) -> str:
    """'1.33x (paired 1.30x: 1.25x, 1.35x)': of the medians, then paired within each repeat."""
    a, b = _median(m.get(top, [])), _median(m.get(bottom, []))
    if a is None or b is None:
        return "—"
    paired, each = paired_ratio(m.get(top, []), m.get(bottom, []))
    tail = f" (paired {_x(paired)}: {', '.join(f'{r:.2f}' for r in each)})" if len(each) > 1 else ""
    return f"{a / b:.2f}x{tail}"


def shown(command: str) -> str:
    """The command without the options that only say where its files went (--out, --json, --workdir, --keep)."""
    words, out, skip = shlex.split(command), [], False
    for word in words:
        if skip:
            skip = False
        elif word in ("--out", "--json", "--workdir"):
            skip = True
        elif word != "--keep" and not word.startswith(("--out=", "--json=", "--workdir=")):
            out.append(word)
    return shlex.join(out)


def _stage(runs: list[dict[str, Any]], name: str) -> float | None:
    values = [r["payload"]["stages"][name] for r in _ok(runs) if name in r.get("payload", {}).get("stages", {})]
    return statistics.median(values) if values else None


def _versions(sizes: list[dict[str, Any]]) -> str:
    found: dict[str, str] = {}
    for s in sizes:
        for key in ("polars", "dlt"):
            for r in _ok(s["measurements"].get(key, [])):
                found.update(r.get("payload", {}).get("versions", {}))
    return ", ".join(f"{k} {v}" for k, v in sorted(found.items())) or "not run"


def _verdict(ok: bool) -> str:
    return "**met**" if ok else "**not met**"


def ratio_verdict(m: dict[str, list[dict[str, Any]]], top: str, bottom: str, limit: float) -> tuple[bool, str]:
    """Whether ``top`` is at most ``limit`` times ``bottom``, and the figures: met only when the ratio of the medians
    and the median of the ratios paired by repeat both are (one favourable median, from a baseline's slow repeat,
    does not meet it alone), with how many repeats were under the limit."""
    a, b = _median(m.get(top, [])), _median(m.get(bottom, []))
    if a is None or b is None:
        return False, "—"
    paired, each = paired_ratio(m.get(top, []), m.get(bottom, []))
    by_medians = a / b <= limit
    by_pairs = paired is None or len(each) < 2 or paired <= limit
    text = ratio_text(m, top, bottom)
    if len(each) > 1:
        text += f", under {limit:.1f}x in {sum(r <= limit for r in each)} of {len(each)} repeats"
        if by_medians != by_pairs:
            text += ", met by the medians only" if by_medians else ", met paired only"
    return by_medians and by_pairs, text


def target_lines(sizes: list[dict[str, Any]]) -> list[str]:
    """Issue 22's targets 1 (10M rows) and 2 (1M rows), each with its figures, or why it was not measured."""
    by_rows = {s["rows"]: s["measurements"] for s in sizes}
    lines = []
    m = by_rows.get(TARGET_ROWS)
    if m and _median(m.get("b", [])) is not None:
        parts = []
        for key in ("b", "b_srv"):
            b = _median(m.get(key, []))
            if b is None:
                parts.append(f"{NAMES[key]}: not measured")
                continue
            rss = _median(m[key], "maxrss_mib")
            (dlt_ok, dlt_text), (a_ok, a_text) = ratio_verdict(m, key, "dlt", 1.0), ratio_verdict(m, key, "a", 1.0)
            ok = dlt_ok and a_ok and rss is not None and rss <= GIB_MIB
            each = [
                f"at most 1.0x dlt {_verdict(dlt_ok)} ({dlt_text})",
                f"at most 1.0x bare DuckDB {_verdict(a_ok)} ({a_text})",
                f"peak RSS at most 1 GiB {_verdict(rss is not None and rss <= GIB_MIB)} ({rss:,.0f} MiB)",
            ]
            parts.append(f"{NAMES[key]}, {b:.1f} s: {_verdict(ok)}: " + ", ".join(each))
        lines.append(f"- **Target 1, {TARGET_ROWS:,} rows: at most 1.0x dlt and 1.0x bare DuckDB, peak RSS at most "
                     "1 GiB**: " + "; ".join(parts) + ".")  # fmt: skip
    else:
        lines.append(f"- **Target 1, {TARGET_ROWS:,} rows**: not measured in these runs.")
    m = by_rows.get(SMALL_ROWS)
    if m and _median(m.get("b", [])) is not None and _median(m.get("dlt", [])) is not None:
        parts = []
        for key in ("b", "b_srv"):
            b, dlt = _median(m.get(key, [])), _median(m.get("dlt", []))
            if b is not None and dlt is not None:
                ok, text = ratio_verdict(m, key, "dlt", 1.5)
                parts.append(f"{NAMES[key]}: {_verdict(ok)}: {b:.1f} s against dlt's {dlt:.1f} s, {text}")
        lines.append(f"- **Target 2, {SMALL_ROWS:,} rows: at most 1.5x dlt**: " + "; ".join(parts) + ".")
    else:
        lines.append(f"- **Target 2, {SMALL_ROWS:,} rows**: not measured in these runs.")
    return lines


def reasons(sizes: list[dict[str, Any]]) -> list[str]:
    """Where (b)'s time goes beyond dlt's, from the figures of the same runs (differences of medians)."""
    out = []
    for s in sizes:
        m = s["measurements"]
        b, srv, dlt, a = (_median(m.get(k, [])) for k in ("b", "b_srv", "dlt", "a"))
        if None in (b, srv, dlt, a):
            continue
        to_parquet = _stage(m.get("a", []), "csv_to_parquet")
        start = b - srv
        noise = " (negative: the two differ by less than this run's noise)" if start < 0 else ""
        out.append(
            f"- {s['rows']:,} rows: starting Prefect's server inside the load costs {start:+.1f} s ((b) minus (b) "
            f"with the server, medians){noise}; with the server running, tradewh takes {srv - dlt:+.1f} s over "
            f"dlt's plain load and "
            f"{srv - a:+.1f} s over bare DuckDB"
            + (
                f"; bare DuckDB's own CSV -> Parquet step takes {to_parquet:.1f} s of its {a:.1f} s"
                if to_parquet is not None
                else ""
            )  # fmt: skip
            + "."
        )
    return out


def section(sizes: list[dict[str, Any]]) -> str:
    """The Markdown section (with its markers) for the sizes that measured polars or dlt."""
    sizes = sorted(sizes, key=lambda s: s["rows"])
    lines = [
        BEGIN,
        "## Baselines: dlt and polars beside bare DuckDB and tradewh (issue 22, targets 1 and 2)",
        "",
        "What a user would pick instead, run in the same run as (a) and (b), on the same generated file, each a "
        "fresh process right after (a) in every repeat (interleaved), timed and measured like every case above "
        "(wall from spawn to exit; peak RSS: GNU time's `%M` of the process). The two baselines run in the bench-"
        "only environment `.venv-bench` (`make bench-env`, `benchmarks/requirements-baselines.txt`; never in "
        f"`requirements.lock`): {_versions(sizes)}. **dlt** (`benchmarks/dlt_pipeline.py`): a resource yielding "
        "pyarrow tables read from the CSV (`pyarrow.csv.open_csv`, streaming, 16 MiB blocks, the explicit column "
        "types of (a)), destination duckdb, loader file format parquet; its DuckDB is 2.0.1, the project's, so "
        "the three DuckDB pipelines run one engine (dlt's own `read_csv_duckdb` fails on DuckDB 2.0.1, \"Relations "
        'no longer have fetchmany()"; the destination loads Parquet with it). **polars** '
        "(`benchmarks/polars_parquet.py`): `scan_csv` with the same types -> `sink_parquet` (zstd): CSV to Parquet "
        "only, the floor. Other work ran on the machine (two cores, shared): the load average is given per size; "
        "read the ratios, and the *paired* ratios (the median of the ratios within each repeat) first.",
        "",
    ]
    for s in sizes:
        run, load = s.get("run", {}), s.get("loadavg", {})
        ends = [v[0] for v in (load.get("start"), load.get("end")) if v]
        seen = ends + [r["loadavg_1m"] for runs in s["measurements"].values() for r in runs if "loadavg_1m" in r]
        avg = " -> ".join(f"{v:.1f}" for v in ends) + (
            f" (at the cases' ends {min(seen):.1f}-{max(seen):.1f})" if len(seen) > len(ends) else ""
        )
        repeats = max((len(v) for v in s["measurements"].values()), default=0)
        lines.append(
            f"- {s['rows']:,} rows: measured {s.get('started', run.get('date', '?'))}, {repeats} repeat(s), "
            f"1-minute load average {avg or '?'}" + (f"; `{shown(run['command'])}`" if run.get("command") else "")
        )
    lines += ["", "| rows | pipeline | what it does | wall s, median (min-max) | rows/s | CPU s, median (cores busy) "
              "| peak RSS MiB | runs |", "|---:|---|---|---:|---:|---:|---:|---|"]  # fmt: skip
    for s in sizes:
        for key in ("polars", "a", "dlt", "b", "b_srv"):
            runs = s["measurements"].get(key)
            ok = _ok(runs or [])
            if not ok:
                why = s.get("skipped", {}).get(key) or ("failed" if runs else "not run")
                lines.append(f"| {s['rows']:,} | {NAMES[key]} | {WHAT[key]} | — | — | — | — | {why} |")
                continue
            walls = [r["wall_s"] for r in ok]
            med = statistics.median(walls)
            rows_ok = all(c.get("all_rows") for c in s.get("checks", {}).get(key, []))
            note = f"{len(ok)}" + ("" if key not in ("polars", "dlt") or rows_ok else "; **rows missing**")
            lines.append(
                f"| {s['rows']:,} | {NAMES[key]} | {WHAT[key]} | {med:.2f} ({min(walls):.2f}-{max(walls):.2f}) | "
                f"{s['rows'] / med:,.0f} | {cpu_text(ok)} | {_median(ok, 'maxrss_mib'):,.0f} | {note} |"
            )
    lines += ["", "| rows | (b)/dlt | (b) with server/dlt | (b)/(a) | (b) with server/(a) | dlt/(a) | polars/(a) |",
              "|---:|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    for s in sizes:
        m = s["measurements"]
        pairs = (("b", "dlt"), ("b_srv", "dlt"), ("b", "a"), ("b_srv", "a"), ("dlt", "a"), ("polars", "a"))
        lines.append(f"| {s['rows']:,} | " + " | ".join(ratio_text(m, t, u) for t, u in pairs) + " |")
    where = ("Where tradewh's time goes beyond the baselines (same runs; the stage profile of the load, *Where "
             "tradewh's time and memory go*, says which stages take the rest):")  # fmt: skip
    lines += ["", *target_lines(sizes), "", where, ""]
    for s in sizes:  # each size's reasons, then its notes (added by hand)
        lines += [*reasons([s]), *(f"- {s['rows']:,} rows: {note}" for note in s.get("notes", []))]
    lines.append(END)
    return "\n".join(lines) + "\n"


def has_baselines(sizes: list[dict[str, Any]]) -> bool:
    return any(s["measurements"].get(k) or k in s.get("skipped", {}) for s in sizes for k in ("polars", "dlt"))


def write_section(out: Path, text: str) -> None:
    """Put the section in ``out``: in place of the one there, else before issue 22's incremental section, else at
    the end."""
    current = out.read_text() if out.exists() else ""
    if BEGIN in current and END in current:
        head, rest = current.split(BEGIN, 1)
        current = head + text.rstrip("\n") + rest.split(END, 1)[1]
    elif "<!-- incremental: begin -->" in current:
        head, rest = current.split("<!-- incremental: begin -->", 1)
        current = head + text + "\n<!-- incremental: begin -->" + rest
    else:
        current = current.rstrip("\n") + "\n\n" + text
    out.write_text(current)


def main_baselines(args: argparse.Namespace, command: str, json_path: Path, work: Path) -> None:
    """Measure the cases at every size of ``args.rows`` in ``work``, merge into ``json_path``, write the section of
    ``args.out``."""
    import run as bench  # benchmarks/run.py: this folder is the script's first import path

    kept = json.loads(json_path.read_text())["sizes"] if json_path.exists() else []
    info = {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": command,
        "versions": bench.versions(),
        "code": bench.code_fingerprint(),
        "nproc": len(os.sched_getaffinity(0)),
    }
    done: list[dict[str, Any]] = []
    for rows in sorted(set(args.rows)):
        size = bench.run_size(rows, args, work, done)
        size["run"] = info
        done.append(size)
        merged = [s for s in kept if s["rows"] not in {d["rows"] for d in done}] + done
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps({"sizes": sorted(merged, key=lambda s: s["rows"])}, indent=1))
        write_section(args.out, section(merged))
    args.say(f"wrote the baselines section of {args.out} and {json_path}")
