"""What the README tells a BI user, read from the README itself, so the BI client tests prove the README:
the five questions of "Five questions, one query each" and the Superset lines of "BI tools"."""

from __future__ import annotations

import re
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
README = PROJECT_ROOT / "README.md"


def section(title: str, text: str | None = None) -> str:
    """The body of the README's ``## <title>`` section (up to the next ``## `` heading)."""
    text = README.read_text(encoding="utf-8") if text is None else text
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", text, flags=re.M | re.S)
    if match is None:
        raise AssertionError(f'README.md has no "## {title}" section')
    return match.group(1)


def five_questions() -> list[tuple[str, str]]:
    """(title, SQL) of each query in the "Five questions" block, in order: a ``-- N. title`` comment line
    starts each query, a ``;`` ends it."""
    body = section("Five questions, one query each")
    block = re.search(r"```sql\n(.*?)```", body, flags=re.S)
    if block is None:
        raise AssertionError('README.md\'s "Five questions" section has no ```sql block')
    queries = []
    for chunk in re.split(r"^-- (?=\d+\. )", block.group(1), flags=re.M)[1:]:
        title, _, sql = chunk.partition("\n")
        queries.append((title.strip(), sql.strip().rstrip(";").strip()))
    if len(queries) != 5:
        raise AssertionError(f'README.md\'s "Five questions" block holds {len(queries)} queries, not 5')
    return queries


def bi_bullet(name: str) -> str:
    """The "BI tools" bullet that starts with ``- <name>``, its continuation lines joined by single spaces."""
    body = section("BI tools")
    match = re.search(rf"^- {re.escape(name)}\b.*?(?=^- |^\s*$|\Z)", body, flags=re.M | re.S)
    if match is None:
        raise AssertionError(f'README.md\'s "BI tools" section has no bullet starting "- {name}"')
    return " ".join(match.group(0).split())


def superset_uri(warehouse: Path) -> str:
    """The SQLAlchemy URI the README's Superset bullet gives, for the warehouse file at ``warehouse``."""
    bullet = bi_bullet("Superset")
    match = re.search(r"`(duckdb:////path/to/tradewh\.duckdb\?[^`]+)`", bullet)
    if match is None:
        raise AssertionError("README.md's Superset bullet gives no URI `duckdb:////path/to/tradewh.duckdb?...`")
    return match.group(1).replace("/path/to/tradewh.duckdb", str(warehouse))


def superset_install_line() -> str:
    """The pip line the README's Superset bullet gives (the requirement and constraint files it names)."""
    bullet = bi_bullet("Superset")
    match = re.search(r"`([^`]*pip install -r tests/bi/superset-requirements\.txt[^`]*)`", bullet)
    if match is None:
        raise AssertionError(
            "README.md's Superset bullet gives no `... pip install -r tests/bi/superset-requirements.txt ...` line"
        )
    return match.group(1)
