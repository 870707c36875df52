"""The layout shows the data's path: one package per stage, imports pointing one way, small modules, datasets
registered by import. Read from the source with ``ast``, so a new import that breaks it fails here."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT

# the stages in the order the data moves through them: a package may import only from packages before it
ORDER = (
    "warehouse.common",
    "warehouse.extract",
    "warehouse.parse",
    "schemas",
    "warehouse.lake",
    "warehouse.stage",
    "warehouse.build",
    "warehouse.publish",
    "warehouse.ducklake",
    "warehouse.orchestrate",
    "flows",
    "warehouse.serve",
)
MAX_LINES = 500
SOURCES = sorted(
    p
    for top in ("warehouse", "schemas", "flows")
    for p in (PROJECT_ROOT / top).rglob("*.py")
    if "__pycache__" not in p.parts
)


def _module(path: Path) -> str:
    parts = path.relative_to(PROJECT_ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def package_of(module: str) -> str | None:
    """The stage package a module belongs to (``warehouse.stage.batches`` -> ``warehouse.stage``)."""
    parts = module.split(".")
    if parts[0] in ("schemas", "flows"):
        return parts[0]
    if parts[0] == "warehouse" and len(parts) >= 2:
        return ".".join(parts[:2])
    return None


def _type_checking_only(tree: ast.Module) -> set[int]:
    """Line numbers of imports under ``if TYPE_CHECKING:`` (names for annotations, not dependencies at run time)."""
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            for inner in ast.walk(node):
                if isinstance(inner, ast.Import | ast.ImportFrom):
                    lines.add(inner.lineno)
    return lines


def imports(path: Path) -> set[str]:
    """The project modules (and packages) a file imports, at module level or inside functions."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = _type_checking_only(tree)
    found: set[str] = set()
    for node in ast.walk(tree):
        if getattr(node, "lineno", None) in skip:
            continue
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return {m for m in found if m.split(".")[0] in ("warehouse", "schemas", "flows")}


def package_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in SOURCES:
        source = package_of(_module(path))
        if source is None:
            continue
        targets = {package_of(m) for m in imports(path)} - {None, source}
        graph.setdefault(source, set()).update(t for t in targets if t in ORDER)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every cycle found by a depth-first search (each reported once, from its smallest member)."""
    found: list[list[str]] = []

    def visit(node: str, path: list[str]) -> None:
        for target in sorted(graph.get(node, ())):
            if target == path[0]:
                found.append([*path, target])
            elif target not in path and target > path[0]:
                visit(target, [*path, target])

    for start in sorted(graph):
        visit(start, [start])
    return found


def test_no_import_cycle_between_packages():
    assert cycles(package_graph()) == []


def test_a_package_imports_only_from_the_stages_before_it():
    rank = {p: i for i, p in enumerate(ORDER)}
    backwards = sorted(
        f"{source} imports {target}"
        for source, targets in package_graph().items()
        for target in targets
        if rank[target] > rank[source]
    )
    assert backwards == []


def test_the_cycle_check_can_fail():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(PROJECT_ROOT)))
def test_no_module_is_over_500_lines(path):
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{path.relative_to(PROJECT_ROOT)} has {lines} lines: split it by what it does"


def test_every_package_names_its_public_functions():
    for package in ORDER:
        if not package.startswith("warehouse."):
            continue
        init = PROJECT_ROOT / package.replace(".", "/") / "__init__.py"
        tree = ast.parse(init.read_text(encoding="utf-8"))
        assert ast.get_docstring(tree), f"{init} says nothing about its stage"


def test_datasets_are_registered_by_import_not_looked_up_by_name():
    from warehouse.stage import DATASETS

    for path in SOURCES:
        text = path.read_text(encoding="utf-8")
        assert "import_module(" not in text, f"{path}: look a dataset up in warehouse.stage.registry instead"
    staged = {p.stem.removeprefix("stg_") for p in (PROJECT_ROOT / "sql" / "staging").glob("stg_*.sql")}
    assert set(DATASETS) == staged  # every staging view has its registry entry, and the other way round
    for dataset in DATASETS.values():
        assert dataset.staging_file(PROJECT_ROOT / "sql").exists()
        assert (PROJECT_ROOT / "schemas" / f"{dataset.name}.py").exists()
        assert dataset.parse.__module__ == f"warehouse.parse.{dataset.name}"  # one name everywhere
