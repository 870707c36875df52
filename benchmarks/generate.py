"""Generate UN Comtrade current-API CSV files (layout ``plus_api_csv``) for the benchmark, deterministically.

The file has the exact 47-column header of ``seeds/comtrade_chn_usa_hs8542/*.csv`` (the getFinalData CSV):
one year, annual, HS 2022 ('H6') 6-digit codes written as text with their leading zeros ('010121'), ~200
reporters and ~200 partners drawn from the codes of ``seeds/reference/comtrade_codes.csv`` that have an ISO3
(no aggregates), flows M and X, lognormal ``primaryValue``, some empty ``qty``; totals only (``partner2Code``
0, ``customsCode`` C00, ``motCode`` 0) unless ``--breakdowns`` is given. The Comtrade key (reporter, partner,
partner2, flow, customs, mode of transport, commodity) is unique, rows are sorted like the API serves them.

With ``--aggregates`` the file also holds, as a download asking for TOTAL, AG2 and AG6 does, for each reporter x
flow x partner (x breakdown) the HS chapters its HS6 rows fall in (``cmdCode`` '01'..'97', ``aggrLevel`` 2,
``isLeaf`` False) and a ``TOTAL`` row (``aggrLevel`` 0), each valued at the sum of the HS6 rows below it (value
and net weight; no quantity, whose units differ across products), so the file is internally consistent as the
publisher's is. ``--rows`` then counts every row, of every level: the file has exactly that many data rows, and
``rows_by_level`` in the record says how many are HS6, chapter and TOTAL rows. Codes sort as text within each
reporter x flow x partner: a chapter row comes before its HS6 rows, TOTAL last.

With ``--paired`` each reporter x partner x commodity (x breakdown) drawn is written with both flows, M and X:
every series has two flows (the keys drawn are a half of ``--rows``), where the default file's flows are drawn
independently and few series have both (at 10M rows of the default sizes, about 2.5 %). A large reporter's real
download is closer to this; the fact's pairing of the flows and the totals it derives then cover every row. HS6
rows only.

With ``--bad-share 0.01`` about 1 % of the rows are corrupted in ways the schema refuses, in equal parts:
a negative ``primaryValue`` (rule non_negative), a partner code that is not in the code list (known_partner)
and a ``primaryValue`` that is not a number (value_is_number). Every corrupted row's CSV line number is
recorded in ``<file>.json`` beside the file, with the counts, the seed and the file's SHA-256.

Same arguments, same bytes: the generator uses numpy's seeded PCG64 and writes with DuckDB single-threaded.

Usage::

    .venv/bin/python benchmarks/generate.py --rows 1000000 --out /tmp/bench/comtrade_1000000.csv
    .venv/bin/python benchmarks/generate.py --rows 1000000 --bad-share 0.01 --out /tmp/bench/bad.csv
    .venv/bin/python benchmarks/generate.py --rows 1000000 --aggregates --out /tmp/bench/levels.csv
    .venv/bin/python benchmarks/generate.py --rows 1000000 --paired --out /tmp/bench/paired.csv
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import sys
from collections.abc import Callable
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

PROJECT_ROOT = Path(__file__).resolve().parents[1]
CODES_CSV = PROJECT_ROOT / "seeds" / "reference" / "comtrade_codes.csv"
SEED_CSV = PROJECT_ROOT / "seeds" / "comtrade_chn_usa_hs8542" / "plus_api_CHN_M_USA_HS8542_2010_2024.csv"

# The getFinalData CSV header, in the seed file's order (checked against the seed by ``header()``).
HEADER: tuple[str, ...] = (
    "typeCode", "freqCode", "refPeriodId", "refYear", "refMonth", "period", "reporterCode", "reporterISO",
    "reporterDesc", "flowCode", "flowDesc", "partnerCode", "partnerISO", "partnerDesc", "partner2Code",
    "partner2ISO", "partner2Desc", "classificationCode", "classificationSearchCode", "isOriginalClassification",
    "cmdCode", "cmdDesc", "aggrLevel", "isLeaf", "customsCode", "customsDesc", "mosCode", "motCode", "motDesc",
    "qtyUnitCode", "qtyUnitAbbr", "qty", "isQtyEstimated", "altQtyUnitCode", "altQtyUnitAbbr", "altQty",
    "isAltQtyEstimated", "netWgt", "isNetWgtEstimated", "grossWgt", "isGrossWgtEstimated", "cifvalue", "fobvalue",
    "primaryValue", "legacyEstimationFlag", "isReported", "isAggregate",
)  # fmt: skip

FLOWS = ("M", "X")
FLOW_DESC = {"M": "Import", "X": "Export"}
BAD_KINDS = ("negative_value", "unknown_partner", "text_value")
UNKNOWN_PARTNER = 999  # not a Comtrade code: absent from comtrade_codes.csv
TEXT_VALUES = ("n/a", "1,234.5", "confidential", "12 345")
MOT_BREAKDOWN = ("1000", "2000", "3000")  # sea, air, land: used only with --breakdowns
CUSTOMS_BREAKDOWN = ("C01", "C02")
TOTAL_CODE = "TOTAL"  # the commodity code of all commodities (aggrLevel 0)


def header() -> list[str]:
    """The seed file's header; the generator refuses to run if it ever drifts from ``HEADER``."""
    with SEED_CSV.open(newline="", encoding="utf-8-sig") as fh:
        seed = next(csv.reader(fh))
    if tuple(seed) != HEADER:
        raise SystemExit(f"generate: {SEED_CSV.name} has another header than benchmarks/generate.py expects")
    return list(HEADER)


def load_codes() -> list[tuple[int, str, str]]:
    """(code, iso3, name) of the current non-aggregate codes with an ISO3, one code per ISO3, sorted by code.

    Historical codes ('Belgium-Luxembourg (...1998)') are left out, and of the codes left that share an ISO3
    (250 Metropolitan France / 251 France, 840 / 842 USA) the highest, the one the current API uses, is kept:
    two codes of one ISO3 in one file make two figures of one conformed key, which the build refuses.
    """
    with CODES_CSV.open(newline="", encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh) if r["iso3"] and r["is_aggregate"] != "true" and "(..." not in r["name"]]
    by_iso3: dict[str, tuple[int, str, str]] = {}
    for r in sorted(rows, key=lambda r: int(r["code"])):
        by_iso3[r["iso3"]] = (int(r["code"]), r["iso3"], r["name"])
    return sorted(by_iso3.values())


def hs6_codes(rng: np.random.Generator, count: int) -> np.ndarray:
    """``count`` distinct HS6 codes as 6-character text (chapters 01-97 without 77; so some start with '0')."""
    chapters = np.array([c for c in range(1, 98) if c != 77])
    picked: set[int] = set()
    while len(picked) < count:
        ch = rng.choice(chapters, size=count)
        heading = rng.integers(1, 100, size=count)
        sub = rng.integers(0, 100, size=count)
        picked.update((ch * 10000 + heading * 100 + sub).tolist())
    codes = np.sort(rng.choice(np.array(sorted(picked)), size=count, replace=False))
    return np.char.zfill(codes.astype(str), 6)


def unique_keys(
    rng: np.random.Generator, rows: int, sizes: tuple[int, ...], allowed: Callable[[np.ndarray], np.ndarray]
) -> np.ndarray:
    """``rows`` distinct flat indexes into a key space of the given dimension sizes, each ``allowed``, sorted."""
    space = int(np.prod(sizes))
    if rows > space // 2:
        raise SystemExit(f"generate: {rows} rows are too many for {space} possible keys")
    keys = np.empty(0, dtype=np.int64)
    while len(keys) < rows:
        draw = rng.integers(0, space, size=int((rows - len(keys)) * 1.05) + 16, dtype=np.int64)
        keys = np.unique(np.concatenate([keys, draw[allowed(draw)]]))
    # an unbiased subset of exactly ``rows`` keys, then back in key order
    return np.sort(rng.choice(keys, size=rows, replace=False)) if len(keys) > rows else keys


def _first_occurrence(groups: np.ndarray) -> np.ndarray:
    """1 where a group id is seen for the first time along the array, else 0."""
    out = np.zeros(len(groups), dtype=np.int64)
    out[np.unique(groups, return_index=True)[1]] = 1
    return out


def with_aggregates(
    rng: np.random.Generator, keys: np.ndarray, rows: int, sizes: tuple[int, ...], chapter_of: np.ndarray,
    codes_of_chapter: dict[int, np.ndarray],
) -> np.ndarray:  # fmt: skip
    """The HS6 keys to write so that they, their chapter rows and their TOTAL rows are exactly ``rows`` rows.

    ``keys`` (more than enough distinct HS6 keys) are taken in a random order; each one adds its own row, plus
    a chapter row when it is the first of its chapter in its reporter x flow x partner (x breakdown), plus a
    TOTAL row when it is the first of that group: 1, 2 or 3 rows. The longest prefix that stays within
    ``rows`` is kept, and the at most 2 rows still missing are HS6 codes added to chapters already written
    (1 row each), so the count is exact.
    """
    pool = keys[rng.permutation(len(keys))]
    r, f, p, c, v = np.unravel_index(pool, sizes)
    group = np.ravel_multi_index((r, f, p, v), (sizes[0], sizes[1], sizes[2], sizes[4]))
    chapter_group = group * 100 + chapter_of[c]
    written = np.cumsum(1 + _first_occurrence(group) + _first_occurrence(chapter_group))
    take = int(np.searchsorted(written, rows, side="right"))
    if take == 0:
        raise SystemExit(f"generate: {rows} rows are too few for an HS6 row with its chapter and TOTAL rows (3)")
    chosen = np.sort(pool[:take])
    missing = rows - int(written[take - 1])
    added: list[int] = []
    while len(added) < missing:  # one more code of a chapter already written adds exactly one row
        i = int(rng.integers(0, take))
        ch = int(chapter_of[c[i]])
        for code in rng.permutation(codes_of_chapter[ch]):
            key = int(np.ravel_multi_index((r[i], f[i], p[i], code, v[i]), sizes))
            at = int(np.searchsorted(chosen, key))
            if (at == len(chosen) or chosen[at] != key) and key not in added:
                added.append(key)
                break
    return np.sort(np.concatenate([chosen, np.array(added, dtype=chosen.dtype)]))


def build_table(rows: int, *, seed: int, year: int, reporters: int, partners: int, commodities: int,
                breakdowns: bool, aggregates: bool, bad_share: float, paired: bool = False
                ) -> tuple[pa.Table, dict[str, list[int]], dict[str, int]]:  # fmt: skip
    """The rows as an Arrow table of text columns (None = empty cell), the bad rows' line numbers by kind, and
    the rows by aggregation level (``{"6": ..., "2": ..., "0": ...}``; 0 is TOTAL)."""
    rng = np.random.default_rng(seed)
    codes = load_codes()
    pick_r = np.sort(rng.choice(len(codes), size=min(reporters, len(codes)), replace=False))
    pick_p = np.sort(rng.choice(len(codes), size=min(partners, len(codes)), replace=False))
    rep = [codes[i] for i in pick_r]
    par = [codes[i] for i in pick_p]
    cmd = hs6_codes(rng, commodities)
    variants = [("0", "C00", "0")]
    if breakdowns:  # a breakdown by mode of transport and by customs procedure beside each total
        variants += [("0", "C00", m) for m in MOT_BREAKDOWN] + [("0", c, "0") for c in CUSTOMS_BREAKDOWN]
    sizes = (len(rep), len(FLOWS), len(par), len(cmd), len(variants))
    rep_codes = np.array([c for c, _, _ in rep])
    par_codes = np.array([c for c, _, _ in par])
    chapter_of = np.array([int(code[:2]) for code in cmd])

    def not_self(keys: np.ndarray, space: tuple[int, ...] = sizes) -> np.ndarray:  # no economy trades with itself
        r, _, p, _, _ = np.unravel_index(keys, space)
        return rep_codes[r] != par_codes[p]

    if paired:  # each reporter x partner x commodity (x breakdown) drawn once, written with every flow
        if aggregates:
            raise SystemExit("generate: --paired writes HS6 rows only (without --aggregates)")
        if rows % len(FLOWS):
            raise SystemExit(f"generate: --paired writes {len(FLOWS)} flows of each key: --rows a multiple of that")
        one_flow = (sizes[0], 1, *sizes[2:])
        drawn = unique_keys(rng, rows // len(FLOWS), one_flow, lambda k: not_self(k, one_flow))
        r, _, p, c, v = np.unravel_index(drawn, one_flow)
        keys = np.sort(np.concatenate(
            [np.ravel_multi_index((r, np.full_like(r, f), p, c, v), sizes) for f in range(len(FLOWS))]
        ))  # fmt: skip
    else:
        keys = unique_keys(rng, rows, sizes, not_self)
    if aggregates:
        by_chapter = {int(ch): np.flatnonzero(chapter_of == ch) for ch in np.unique(chapter_of)}
        keys = with_aggregates(rng, keys, rows, sizes, chapter_of, by_chapter)
    r_i, f_i, p_i, c_i, v_i = np.unravel_index(keys, sizes)
    leaves = len(keys)

    value = np.minimum(np.round(rng.lognormal(mean=11.0, sigma=2.5, size=leaves)), 9.9e11) + 1.0
    weight = np.round(value / rng.uniform(2.0, 40.0, size=leaves), 3)
    qty = np.where(rng.random(leaves) < 0.15, np.nan, weight)  # ~15 % of records publish no quantity

    # every code written, in text order: '01' (a chapter) < '010121' (its subheadings) < '02' ... < 'TOTAL'
    vocabulary = np.array(sorted({*cmd.tolist(), *(f"{ch:02d}" for ch in range(100)), TOTAL_CODE}))
    code_i = np.searchsorted(vocabulary, cmd)[c_i]
    level = np.full(leaves, 6)
    if aggregates:  # chapter (AG2) and TOTAL rows: sums of the HS6 rows below them, as the publisher's are
        group = np.ravel_multi_index((r_i, f_i, p_i, v_i), (sizes[0], sizes[1], sizes[2], sizes[4]))
        parts = []
        for ids in (group * 100 + chapter_of[c_i], group):
            found, inverse = np.unique(ids, return_inverse=True)
            parts.append((found, np.bincount(inverse, weights=value), np.bincount(inverse, weights=weight)))
        (chapters, ch_value, ch_weight), (totals, tot_value, tot_weight) = parts
        agg_group = np.concatenate([chapters // 100, totals])
        agg_code = np.concatenate(
            [np.searchsorted(vocabulary, np.char.zfill((chapters % 100).astype(str), 2)),
             np.full(len(totals), np.searchsorted(vocabulary, TOTAL_CODE))]
        )  # fmt: skip
        a_r, a_f, a_p, a_v = np.unravel_index(agg_group, (sizes[0], sizes[1], sizes[2], sizes[4]))
        r_i, f_i, p_i, v_i = (np.concatenate(pair) for pair in ((r_i, a_r), (f_i, a_f), (p_i, a_p), (v_i, a_v)))
        code_i = np.concatenate([code_i, agg_code])
        level = np.concatenate([level, np.full(len(chapters), 2), np.full(len(totals), 0)])
        value = np.concatenate([value, ch_value, tot_value])
        weight = np.concatenate([weight, np.round(ch_weight, 3), np.round(tot_weight, 3)])
        qty = np.concatenate([qty, np.full(len(chapters) + len(totals), np.nan)])  # no unit across products
        order = np.argsort(
            np.ravel_multi_index((r_i, f_i, p_i, code_i, v_i), (*sizes[:3], len(vocabulary), sizes[4])),
            kind="stable",
        )
        r_i, f_i, p_i, v_i, code_i, level, value, weight, qty = (
            a[order] for a in (r_i, f_i, p_i, v_i, code_i, level, value, weight, qty)
        )
    n = len(level)
    by_level = {str(lv): int((level == lv).sum()) for lv in (6, 2, 0)}
    par_code = par_codes[p_i]
    is_leaf = level == 6
    is_import = f_i == FLOWS.index("M")
    value_text = pc.binary_join_element_wise(pc.cast(pa.array(value.astype(np.int64)), pa.string()), ".0", "")
    partner_code = pc.cast(pa.array(par_code), pa.string())

    bad: dict[str, list[int]] = {k: [] for k in BAD_KINDS}
    if bad_share > 0:
        chosen = np.sort(rng.choice(n, size=max(1, round(n * bad_share)), replace=False))
        kinds = rng.integers(0, len(BAD_KINDS), size=len(chosen))
        values = value_text.to_numpy(zero_copy_only=False).astype(object)
        partners_text = partner_code.to_numpy(zero_copy_only=False).astype(object)
        for k, kind in enumerate(BAD_KINDS):
            at = chosen[kinds == k]
            if kind == "negative_value":
                values[at] = ["-" + v for v in values[at]]
            elif kind == "unknown_partner":
                partners_text[at] = str(UNKNOWN_PARTNER)
            else:
                values[at] = np.array(TEXT_VALUES, dtype=object)[rng.integers(0, len(TEXT_VALUES), len(at))]
            bad[kind] = (at + 2).tolist()  # CSV line: the header is line 1
        value_text = pa.array(values, type=pa.string())
        partner_code = pa.array(partners_text, type=pa.string())

    def const(text: str | None) -> pa.Array:
        return pa.repeat(pa.scalar(text, pa.string()), n) if text is not None else pa.nulls(n, pa.string())

    def pick(values: list[str], index: np.ndarray) -> pa.Array:
        return pa.array(values, type=pa.string()).take(pa.array(index))

    def by_leaf(leaf: str, aggregate: str) -> pa.Array:
        return const(leaf) if not aggregates else pick([aggregate, leaf], is_leaf.astype(np.int8))

    def number(values: np.ndarray) -> pa.Array:
        return pc.cast(pa.array(values, from_pandas=True), pa.string())  # NaN -> null -> empty cell

    variant = np.array(variants, dtype=object)
    columns: dict[str, pa.Array] = {
        "typeCode": const("C"),
        "freqCode": const("A"),
        "refPeriodId": const(f"{year}0101"),
        "refYear": const(str(year)),
        "refMonth": const("52"),
        "period": const(str(year)),
        "reporterCode": pick([str(c) for c, _, _ in rep], r_i),
        "reporterISO": pick([i for _, i, _ in rep], r_i),
        "reporterDesc": pick([name for _, _, name in rep], r_i),
        "flowCode": pick(list(FLOWS), f_i),
        "flowDesc": pick([FLOW_DESC[f] for f in FLOWS], f_i),
        "partnerCode": partner_code,
        "partnerISO": pick([i for _, i, _ in par], p_i),
        "partnerDesc": pick([name for _, _, name in par], p_i),
        "partner2Code": pick(list(variant[:, 0]), v_i),
        "partner2ISO": const("W00"),
        "partner2Desc": const("World"),
        "classificationCode": const("H6"),
        "classificationSearchCode": const("HS"),
        "isOriginalClassification": const("True"),
        "cmdCode": pick(vocabulary.tolist(), code_i),
        "cmdDesc": const(None),
        "aggrLevel": const("6") if not aggregates else pick(["0", "1", "2", "3", "4", "5", "6"], level),
        "isLeaf": by_leaf("True", "False"),
        "customsCode": pick(list(variant[:, 1]), v_i),
        "customsDesc": const(None),
        "mosCode": const("0"),
        "motCode": pick(list(variant[:, 2]), v_i),
        "motDesc": const(None),
        "qtyUnitCode": by_leaf("8", "-1"),
        "qtyUnitAbbr": by_leaf("kg", "N/A"),
        "qty": number(qty),
        "isQtyEstimated": const("False"),
        "altQtyUnitCode": const("-1"),
        "altQtyUnitAbbr": const(None),
        "altQty": const(None),
        "isAltQtyEstimated": const("False"),
        "netWgt": number(weight),
        "isNetWgtEstimated": const("False"),
        "grossWgt": const(None),
        "isGrossWgtEstimated": const("False"),
        "cifvalue": pc.if_else(pa.array(is_import), value_text, pa.scalar(None, pa.string())),
        "fobvalue": pc.if_else(pa.array(is_import), pa.scalar(None, pa.string()), value_text),
        "primaryValue": value_text,
        "legacyEstimationFlag": const("0"),
        "isReported": const("True"),
        "isAggregate": const("False"),
    }
    return pa.table({name: columns[name] for name in header()}), bad, by_level


def write_csv(table: pa.Table, out: Path) -> None:
    """Write the text table as CSV: empty cell for None, quotes only where a comma needs them."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.part")
    con = duckdb.connect()
    try:
        con.execute("set threads = 1")  # one writer: the same bytes every time
        con.register("generated", table)
        con.execute(f"copy generated to '{str(tmp).replace(chr(39), chr(39) * 2)}' (header, delimiter ',')")
    finally:
        con.close()
    tmp.replace(out)


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def generate(rows: int, out: Path, *, seed: int = 20121207, year: int = 2023, reporters: int = 200,
             partners: int = 200, commodities: int = 5000, breakdowns: bool = False, aggregates: bool = False,
             bad_share: float = 0.0, paired: bool = False) -> dict[str, object]:  # fmt: skip
    """Write the file and its ``<file>.json`` record; return the record.

    Returns:
        ``rows`` (data rows written, every aggregation level: always ``rows`` as asked),
        ``rows_by_level`` (``{"6": HS6 rows, "2": chapter rows, "0": TOTAL rows}``),
        ``bad_rows`` (total), ``bad_by_kind`` (counts), ``bad_lines`` (CSV line numbers, sorted), ``sha256``,
        ``bytes`` and the arguments.
    """
    table, bad, by_level = build_table(
        rows, seed=seed, year=year, reporters=reporters, partners=partners, commodities=commodities,
        breakdowns=breakdowns, aggregates=aggregates, bad_share=bad_share, paired=paired,
    )  # fmt: skip
    write_csv(table, out)
    lines = sorted(line for kind in BAD_KINDS for line in bad[kind])
    record: dict[str, object] = {
        "file": str(out),
        "rows": table.num_rows,
        "requested_rows": rows,
        "rows_by_level": by_level,
        "seed": seed,
        "year": year,
        "reporters": reporters,
        "partners": partners,
        "commodities": commodities,
        "breakdowns": breakdowns,
        "aggregates": aggregates,
        "paired": paired,
        "bad_share": bad_share,
        "bad_rows": len(lines),
        "bad_by_kind": {kind: len(bad[kind]) for kind in BAD_KINDS},
        "bad_lines": lines,
        "bytes": out.stat().st_size,
        "sha256": sha256(out),
    }
    out.with_name(out.name + ".json").write_text(json.dumps(record))
    return record


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, required=True, help="data rows to write (e.g. 100000)")
    parser.add_argument("--out", type=Path, required=True, help="the CSV file to write (<out>.json beside it)")
    parser.add_argument("--seed", type=int, default=20121207)
    parser.add_argument("--year", type=int, default=2023)
    parser.add_argument("--reporters", type=int, default=200)
    parser.add_argument("--partners", type=int, default=200)
    parser.add_argument("--commodities", type=int, default=5000, help="distinct HS6 codes")
    parser.add_argument("--breakdowns", action="store_true", help="add mode-of-transport and customs breakdowns")
    parser.add_argument(
        "--aggregates", action="store_true",
        help="also write each reporter x flow x partner's HS chapter (AG2) rows and TOTAL row, sums of its HS6 rows; "
        "--rows counts every row",
    )  # fmt: skip
    parser.add_argument(
        "--paired", action="store_true",
        help="write each reporter x partner x commodity drawn with both flows, M and X (a series of two flows, "
        "as most of a large reporter's are); HS6 rows only",
    )  # fmt: skip
    parser.add_argument("--bad-share", type=float, default=0.0, help="share of rows to corrupt (e.g. 0.01)")
    args = parser.parse_args(argv)
    record = generate(
        args.rows, args.out, seed=args.seed, year=args.year, reporters=args.reporters, partners=args.partners,
        commodities=args.commodities, breakdowns=args.breakdowns, aggregates=args.aggregates,
        bad_share=args.bad_share, paired=args.paired,
    )  # fmt: skip
    summary = {k: v for k, v in record.items() if k != "bad_lines"}
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
