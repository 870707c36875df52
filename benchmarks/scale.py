"""Flat to 100M rows (issue 22, target 3): ``tradewh load`` of the generated Comtrade file at 10M and 100M rows, in
one run, on fresh homes with the project's Prefect server running: wall time, peak RSS, and the peak disk the home
used against the CSV beside it.

    flock /tmp/tradewh-bench.lock .venv/bin/python benchmarks/scale.py --rows 10000000 100000000 --workdir /tmp/scale

The 100M-row file is about 20 GB of CSV, ten reporting years of the generator's 10M rows each (the generator holds
its table in memory, so it is made a year at a time), and takes a while to generate (kept in ``--workdir``); the
load's home needs up to twice that beside it. Not run in CI. Targets: the 100M load's time at most 10.5x the 10M
load's (the same run), peak RSS at most 1 GiB, disk at most 2x the CSV. The figures go to
``benchmarks/results/scale.json`` and BENCHMARKS.md between ``<!-- scale: begin -->`` and ``<!-- scale: end -->``.

With ``--paired`` the files are the generator's ``--paired`` ones (every series with both flows, M and X: the fact
derives a total for each, the balance mart pairs every one), to ``benchmarks/results/scale_paired.json`` and the
``scale-paired`` section:

    flock /tmp/tradewh-bench.lock .venv/bin/python benchmarks/scale.py --paired --rows 10000000 30000000 \
        --workdir /tmp/scale
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as bench  # noqa: E402 (benchmarks/run.py: the generator, measure, the catalogue, the project's server)

GIB = 1024**3
RESULTS = bench.BENCH_DIR / "results" / "scale.json"
CHUNK_ROWS = 10_000_000  # the generator holds its whole table in memory (~7 GB at 10M rows): bigger files in chunks
SEED, YEAR = 20121207, 2023  # run.py's: the first chunk is the benchmark's own 10M-row file


def ensure_big_file(rows: int, path: Path, *, paired: bool = False) -> dict[str, Any]:
    """The generated file of ``rows`` rows. Up to CHUNK_ROWS, run.py's file; beyond, chunks of CHUNK_ROWS rows, one
    reporting year each (2023, 2022, ...: the Comtrade key stays unique across the file, as in a multi-year bulk
    download), generated one at a time and appended under one header. ``paired``: the generator's ``--paired``."""
    if rows <= CHUNK_ROWS:
        return bench.ensure_file(rows, path, bad_share=0.0, seed=SEED, aggregates=False, paired=paired)
    record_path = path.with_name(path.name + ".json")
    if path.exists() and record_path.exists():
        record = json.loads(record_path.read_text())
        same = (record.get("requested_rows"), record.get("paired", False)) == (rows, paired)
        if same and record.get("bytes") == path.stat().st_size:
            return record
    started, chunks, years = time.perf_counter(), [], []
    part = path.with_name(f".{path.name}.chunk.csv")
    tmp = path.with_name(f".{path.name}.part")
    with tmp.open("wb") as out:
        for k, first in enumerate(range(0, rows, CHUNK_ROWS)):
            size = min(CHUNK_ROWS, rows - first)
            subprocess.run(
                [bench.PYTHON, str(bench.BENCH_DIR / "generate.py"), "--rows", str(size), "--out", str(part),
                 "--seed", str(SEED + k), "--year", str(YEAR - k), *(["--paired"] if paired else [])],
                check=True, stdout=subprocess.DEVNULL, cwd=bench.PROJECT_ROOT,
            )  # fmt: skip
            with part.open("rb") as chunk:
                header = chunk.readline()
                if k == 0:
                    out.write(header)
                shutil.copyfileobj(chunk, out, 1 << 24)
            chunks.append(size)
            years.append(YEAR - k)
            part.unlink()
            part.with_name(part.name + ".json").unlink(missing_ok=True)
    tmp.replace(path)
    record = {
        "file": str(path), "requested_rows": rows, "rows": sum(chunks), "chunks": chunks, "years": years,
        "seeds": [SEED + k for k in range(len(chunks))], "bytes": path.stat().st_size, "paired": paired,
        "generate_seconds": round(time.perf_counter() - started, 1),
    }  # fmt: skip
    record_path.write_text(json.dumps(record))
    return record


def disk_bytes(folder: Path) -> int:
    """Bytes the folder's files take on disk (allocated blocks; a hard link counted once)."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for root, _, files in os.walk(folder):
        for name in files:
            try:
                st = os.lstat(os.path.join(root, name))
            except FileNotFoundError:
                continue  # a temporary file gone between the listing and the stat
            if (st.st_dev, st.st_ino) in seen:
                continue
            seen.add((st.st_dev, st.st_ino))
            total += st.st_blocks * 512
    return total


class DiskSampler(threading.Thread):
    """The peak of ``disk_bytes(folder)``, sampled every ``every`` seconds while a load runs."""

    def __init__(self, folder: Path, every: float = 2.0) -> None:
        super().__init__(daemon=True)
        self.folder, self.every, self.peak = folder, every, 0
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            if self.folder.exists():
                self.peak = max(self.peak, disk_bytes(self.folder))
            self._halt.wait(self.every)

    def stop(self) -> int:
        self._halt.set()
        self.join()
        if self.folder.exists():
            self.peak = max(self.peak, disk_bytes(self.folder))
        return self.peak


def load_once(rows: int, csv_path: Path, work: Path, time_budget: float) -> dict[str, Any]:
    """One ``tradewh load`` of the file on a fresh home, the project's server running (started untimed)."""
    tag = csv_path.stem.removeprefix("comtrade_")  # 10000000, paired_10000000
    home = work / f"home-{tag}"
    shutil.rmtree(home, ignore_errors=True)
    catalogue = bench.write_catalogue(csv_path, rows, work / f"catalogue-{tag}.toml")
    env = bench.tradewh_env(home, catalogue, csv_path.parent)
    with bench.project_server(env, work / f"server-{tag}.log") as started:
        if started is None:
            raise SystemExit(f"the project's Prefect server did not start: {work / f'server-{tag}.log'}")
        sampler = DiskSampler(home)
        sampler.start()
        load = bench.measure(
            [bench.TRADEWH, "load"], env=env, log=work / f"load-{tag}.log",
            time_budget=time_budget, memory_budget=12 * GIB,
        )  # fmt: skip
        peak_disk = sampler.stop()
    final_disk = disk_bytes(home)
    outcome = bench.load_outcome(home) if load.returncode == 0 else {}
    shutil.rmtree(home, ignore_errors=True)  # 100M rows: tens of GB
    return {
        "rows": rows, "csv_bytes": csv_path.stat().st_size, "wall_s": round(load.wall_s, 2),
        "maxrss_mib": load.maxrss_mib, "tree_peak_mib": load.tree_peak_mib, "returncode": load.returncode,
        "killed": load.killed, "peak_disk_bytes": peak_disk, "final_disk_bytes": final_disk, "outcome": outcome,
        "tail": load.tail,
    }  # fmt: skip


def render(result: dict[str, Any]) -> str:
    loads = sorted(result["loads"], key=lambda r: r["rows"])
    paired = result.get("paired", False)
    marker = "scale-paired" if paired else "scale"
    lines = [
        f"<!-- {marker}: begin -->",
        "## Every series with both flows (issue 22, target 3: the fact's pairing at scale)"
        if paired
        else "## Flat to 100M rows (issue 22, target 3)",
        "",
        f"Measured {result['at']} by `{result['command']}` (not run in CI): `tradewh load` of the benchmark's "
        + ("generated Comtrade file with every series in both flows (`generate.py --paired`)" if paired else
           "generated Comtrade file")
        + " on a fresh home, the project's Prefect server running (started untimed), one "
        "repeat a size in the same run; peak disk is the home's allocated bytes, sampled every 2 s (raw payload "
        f"kept, lake, warehouse, DuckDB's spill), against the CSV beside it. Load average {result['load_before']} "
        f"before, {result['load_after']} after; {result['machine']['nproc']} cores, "
        f"{result['machine']['memory_gib']} GiB.",
        "",
        "| rows | CSV GB | wall s | rows/s | peak RSS MiB | peak disk GB | disk / CSV | after the load GB | exit |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in loads:
        lines.append(
            f"| {r['rows']:,} | {r['csv_bytes'] / 1e9:.1f} | {r['wall_s']:.1f} | {r['rows'] / r['wall_s']:,.0f} | "
            f"{r['maxrss_mib']:,.0f} | {r['peak_disk_bytes'] / 1e9:.1f} | {r['peak_disk_bytes'] / r['csv_bytes']:.2f}x "
            f"| {r['final_disk_bytes'] / 1e9:.1f} | {r['returncode']}{' ' + r['killed'] if r['killed'] else ''} |"
        )
    if len(loads) >= 2 and all(r["returncode"] == 0 for r in loads):
        small, big = loads[0], loads[-1]
        ratio, rows_ratio = big["wall_s"] / small["wall_s"], big["rows"] / small["rows"]
        limit = 10.5 * rows_ratio / 10
        rss_ok = big["maxrss_mib"] <= 1024
        disk = big["peak_disk_bytes"] / big["csv_bytes"]
        lines += [
            "",
            f"- **Time**: {big['rows']:,} rows took {ratio:.2f}x the {small['rows']:,}-row load "
            f"({'met' if ratio <= limit else 'not met'}: at most {limit:.1f}x for {rows_ratio:.0f}x the rows).",
            f"- **Peak RSS**: {big['maxrss_mib']:,.0f} MiB ({'met' if rss_ok else 'not met'}: at most 1 GiB).",
            f"- **Disk**: peak {disk:.2f}x the CSV ({'met' if disk <= 2 else 'not met'}: at most 2x).",
        ]
    lines.append(f"<!-- {marker}: end -->")
    return "\n".join(lines) + "\n"


def write_section(out: Path, section: str, marker: str = "scale") -> None:
    text = out.read_text() if out.exists() else ""
    begin, end = f"<!-- {marker}: begin -->", f"<!-- {marker}: end -->\n"
    if begin in text and end in text:
        text = text[: text.index(begin)] + section + text[text.index(end) + len(end) :]
    else:
        text = text.rstrip("\n") + "\n\n" + section
    out.write_text(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[10_000_000, 100_000_000])
    parser.add_argument("--workdir", type=Path, required=True, help="generated files and homes (tens of GB)")
    parser.add_argument("--time-budget", type=float, default=7200.0, help="seconds a load may take")
    parser.add_argument("--out", type=Path, default=bench.PROJECT_ROOT / "BENCHMARKS.md")
    parser.add_argument("--paired", action="store_true", help="the generator's --paired files (both flows per series)")
    args = parser.parse_args(argv)
    args.workdir.mkdir(parents=True, exist_ok=True)
    load_before = round(os.getloadavg()[0], 1)
    loads = []
    for rows in sorted(args.rows):
        csv_path = args.workdir / (f"comtrade_paired_{rows}.csv" if args.paired else f"comtrade_{rows}.csv")
        record = ensure_big_file(rows, csv_path, paired=args.paired)
        print(f"{rows:,} rows: {csv_path} ({record.get('bytes', 0) / 1e9:.1f} GB)", flush=True)
        bench.warm_cache(csv_path) if rows <= 10_000_000 else None  # 100M does not fit the page cache anyway
        loads.append(load_once(rows, csv_path, args.workdir, args.time_budget))
        print(json.dumps({k: v for k, v in loads[-1].items() if k != "tail"}), flush=True)
    result = {
        "at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": "flock /tmp/tradewh-bench.lock .venv/bin/python benchmarks/scale.py "
        + ("--paired " if args.paired else "") + "--rows "
        + " ".join(str(r) for r in sorted(args.rows)) + f" --workdir {args.workdir}",
        "paired": args.paired,
        "machine": bench.machine_facts(), "load_before": load_before, "load_after": round(os.getloadavg()[0], 1),
        "loads": loads,
    }  # fmt: skip
    results = RESULTS.with_name("scale_paired.json") if args.paired else RESULTS
    results.parent.mkdir(parents=True, exist_ok=True)
    results.write_text(json.dumps(result, indent=1))
    write_section(args.out, render(result), "scale-paired" if args.paired else "scale")
    print(render(result))
    return 0 if all(r["returncode"] == 0 for r in loads) else 1


if __name__ == "__main__":
    sys.exit(main())
