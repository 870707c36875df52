"""Lines of each top-level function/class/assignment of a module (ast), to count what a move to dbt removes."""

import ast
import sys
from pathlib import Path

for path in sys.argv[1:]:
    src = Path(path).read_text()
    tree = ast.parse(src)
    lines = src.splitlines()
    print(f"== {path}: {len(lines)} lines")
    for node in tree.body:
        start = min([d.lineno for d in getattr(node, "decorator_list", [])] + [node.lineno])
        name = getattr(node, "name", None) or (
            ast.unparse(node.targets[0]) if isinstance(node, ast.Assign) else ast.unparse(node)[:40].replace("\n", " ")
        )
        print(f"{node.end_lineno - start + 1:5d}  {start:4d}-{node.end_lineno:<4d} {type(node).__name__:12s} {name}")
