"""Issue 22's incremental night and no-op, measured (``benchmarks/run.py --incremental ROWS...``).

Per size and repeat, on a fresh home whose own Prefect server runs (``tradewh server start``, untimed, as at night):

- **full**: ``tradewh load`` of a catalogue of two sources, the generated Comtrade file (``bench_comtrade``) and
  the press release of the project (``mofcom_2012_technology_trade``, read from a copy in the work folder);
- **no-op**: the same command again, nothing changed;
- **incremental**: one printed figure of the press release revised (exports 2011, $21.4 bn -> $21.5 bn), the
  same command again: only the press release is staged, and the build starts from the published file;
- **no-op after**: the same command once more.

Each is a fresh process (``benchmarks.run.measure``: wall, peak RSS); what each run did is read from its log and
the published file afterwards (untimed). The section it writes in BENCHMARKS.md is the one between
``<!-- incremental -->`` markers; the rest of the file is left as it is.
"""

from __future__ import annotations

import json
import shutil
import statistics
import time
from pathlib import Path
from typing import Any

BEGIN, END = "<!-- incremental: begin -->", "<!-- incremental: end -->"
RELEASE_ID = "mofcom_2012_technology_trade"  # run.RELEASE_ID: its catalogue entry is run.release_entry
REVISION = (",USD,21.4,21.4,1e9,", ",USD,21.5,21.5,1e9,")
KEYS = {
    "full": "full load (fresh home)",
    "noop": "no-op (nothing changed)",
    "incremental": "incremental night (the press release revised)",
    "noop_after": "no-op after it",
}


def outcome(home: Path, log: Path) -> dict[str, Any]:
    """What a run did: its status, each source's, the build (full, on the published file, or none)."""
    import duckdb

    text = log.read_text(errors="replace")
    build = (
        "incremental" if "built on the published file" in text
        else "republished" if "nothing it is built from changed" in text
        else "full" if "published " in text else "none"
    )  # fmt: skip
    found: dict[str, Any] = {"build": build, "on_server": "runs on the Prefect server at" in text}
    found["flow_engine"] = "recorded without the flow engine" not in text  # warehouse.orchestrate.quick_noop
    warehouse = home / "warehouse" / "tradewh.duckdb"
    if warehouse.exists():
        with duckdb.connect(str(warehouse), read_only=True) as con:
            run = con.execute("select run_id, status from audit.load_runs order by started_at desc limit 1").fetchone()
            found["run_status"] = run[1]
            found["sources"] = dict(
                con.execute("select source_id, status from audit.source_runs where run_id = ?", [run[0]]).fetchall()
            )
            found["raw_comtrade_rows"] = con.execute("select count(*) from raw.comtrade").fetchone()[0]
            found["export_2011"] = con.execute(
                "select max(value) from core.fct_trade_figure where source_id = ? and period = '2011' "
                "and flow = 'export' and measure = 'technology_contract_value' and not is_derived",
                [RELEASE_ID],
            ).fetchone()[0]
    return found


def run_incremental(rows: int, repeat: int, work: Path, say: Any) -> dict[str, Any]:  # noqa: ANN401
    """The four measurements at one size, ``repeat`` times, each repeat on a fresh home with its own server."""
    import run as bench  # benchmarks/run.py: this folder is the script's first import path

    data_dir = work / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    csv = data_dir / f"comtrade_{rows}.csv"
    file = bench.ensure_file(rows, csv, 0.0, 20121207, True)
    bench.warm_cache(csv)
    size: dict[str, Any] = {"rows": rows, "file": file, "runs": {k: [] for k in KEYS}, "checks": {k: [] for k in KEYS}}
    budget = {"time_budget": 1800.0, "memory_budget": 12 * 2**30}
    for rep in range(1, repeat + 1):
        tag = f"inc-{rows}-{rep}"
        home, release = work / f"home-{tag}", work / f"release-{tag}" / "figures.csv"
        shutil.rmtree(home, ignore_errors=True)
        release.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(bench.PROJECT_ROOT / "seeds" / RELEASE_ID / "figures.csv", release)
        catalogue = bench.write_catalogue(csv, rows, work / f"catalogue_{tag}.toml", release=release)
        env = bench.tradewh_env(home, catalogue, work)
        say(f"-- incremental case, {rows:,} rows, repeat {rep}/{repeat}")
        with bench.project_server(env, work / "logs" / f"server-{tag}.log") as took:
            if took is None:
                size.setdefault("skipped", f"`tradewh server start` failed (see {work / 'logs'})")
                break
            for key in KEYS:
                if key == "incremental":
                    text = release.read_text()
                    release.write_text(text.replace(*REVISION))
                    time.sleep(0.01)
                log = work / "logs" / f"{key}-{tag}.log"
                done = bench.measure([bench.TRADEWH, "load"], env=env, log=log, **budget)
                size["runs"][key].append(done.to_json())
                size["checks"][key].append(outcome(home, log))
                say(f"   {key:<12} {done.wall_s:8.2f} s  maxrss {done.maxrss_mib:7.1f} MiB  rc={done.returncode}")
        shutil.rmtree(home, ignore_errors=True)
    return size


def _median(runs: list[dict[str, Any]]) -> float | None:
    walls = [r["wall_s"] for r in runs if r["returncode"] == 0 and not r["killed"]]
    return statistics.median(walls) if walls else None


def section(results: dict[str, Any]) -> str:
    """The markdown section of BENCHMARKS.md (between the markers)."""
    lines = [
        BEGIN,
        "## Incremental nights and the no-op (issue 22, targets 4 and 5)",
        "",
        f"Measured {results['date']} on the same machine, shared with other work (figures are noisy: read the "
        "ratios, each taken within one repeat). Reproduce:",
        "",
        "```sh",
        results["command"],
        "```",
        "",
        "Each repeat, on a fresh home whose own Prefect server runs (started untimed, as at night), with a catalogue "
        "of two sources (the generated Comtrade file and the project's press release, read from a copy): the full "
        "load; the same command again (no-op); the press release revised (exports 2011, $21.4 bn -> $21.5 bn) and "
        "the command again (incremental: only the press release is staged, the build starts from the published "
        "file); the command once more (no-op). Each a fresh process, timed from spawn to exit; what each did is "
        "read from its log and the published file afterwards (untimed).",
        "",
        "| rows | measurement | wall s (median, min-max) | peak RSS MiB | what it did |",
        "|---:|---|---:|---:|---|",
    ]
    verdicts = []
    for size in results["sizes"]:
        rows = size["rows"]
        for key, label in KEYS.items():
            runs = size["runs"][key]
            if not runs:
                continue
            walls = [r["wall_s"] for r in runs]
            med = _median(runs)
            rss = max(r["maxrss_mib"] for r in runs)
            engine = {True: "", False: " (no flow engine)"}
            did = sorted(
                {
                    f"{c.get('build')}{engine[c.get('flow_engine', True)]}, {c.get('run_status')}"
                    for c in size["checks"][key]
                }
            )
            lines.append(
                f"| {rows:,} | {label} | {med if med is None else f'{med:.2f}'} ({min(walls):.2f}-{max(walls):.2f}) "
                f"| {rss:,.0f} | {'; '.join(did)} |"
            )
        pairs = [
            i["wall_s"] / f["wall_s"]
            for f, i in zip(size["runs"]["full"], size["runs"]["incremental"], strict=False)
            if f["returncode"] == 0 and i["returncode"] == 0
        ]
        full, inc = _median(size["runs"]["full"]), _median(size["runs"]["incremental"])
        republished = [  # a no-op that rebuilt (the code changed under it) is not a no-op's time
            r
            for key in ("noop", "noop_after")
            for r, c in zip(size["runs"][key], size["checks"][key], strict=True)
            if c.get("build") == "republished"
        ]
        noop = _median(republished)
        if full and inc:
            ok = "met" if inc <= 0.1 * full else "not met"
            verdicts.append(
                f"- **{rows:,} rows, incremental night at most 10 % of the full load**: **{ok}**: {inc:.2f} s against "
                f"{full:.2f} s, {100 * inc / full:.1f} % (per repeat: "
                f"{', '.join(f'{100 * p:.1f} %' for p in pairs)}); every incremental run built on the published file: "
                f"{all(c.get('build') == 'incremental' for c in size['checks']['incremental'])}; the revised figure "
                f"published: {sorted({c.get('export_2011') for c in size['checks']['incremental']})}."
            )
        if noop:
            ok = "met" if noop <= 2.0 else "not met"
            verdicts.append(
                f"- **{rows:,} rows, no-op at most 2 s with the server running**: **{ok}**: {noop:.2f} s (median of "
                f"the {len(republished)} runs that republished)."
            )
    lines += ["", *verdicts, "", *results.get("notes", []), END]
    return "\n".join(lines) + "\n"


def write_section(out: Path, text: str) -> None:
    """Put the section in ``out``: in place of the one there, else at the end."""
    current = out.read_text() if out.exists() else ""
    if BEGIN in current and END in current:
        head, rest = current.split(BEGIN, 1)
        current = head + text.rstrip("\n") + rest.split(END, 1)[1]
    else:
        current = current.rstrip("\n") + "\n\n" + text
    out.write_text(current)


def main_incremental(
    rows: list[int],
    repeat: int,
    work: Path,
    out: Path,
    json_path: Path,
    command: str,
    say: Any,  # noqa: ANN401
) -> None:
    """Measure every size, write the JSON and the section of ``out``."""
    import datetime as dt

    results: dict[str, Any] = {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": command,
        "sizes": [],
    }
    for size in sorted(rows):
        results["sizes"].append(run_incremental(size, repeat, work, say))
        json_path.write_text(json.dumps(results, indent=1))
    write_section(out, section(results))
    say(f"wrote the incremental section of {out} and {json_path}")
