"""Which of tradewh's code a warehouse file depends on: the build package and every package it imports, transitively.

A warehouse file is made by the build (``warehouse.build``) from the lake, ``sql/``, the reference lists and the
audit records; its checks use the dataset registry (``warehouse.stage``), the pandera models (``schemas``) and
the parsers they name. The digest of that code is one of the build's inputs (``BuildInputs.parts['code']``):
when it changes, the next night builds in full. Code the file does not depend on (the commands and their pages,
``warehouse.serve``; the flows, which only wire the steps; orchestration, publishing, DuckLake) can change
without a full build: the file a full build would make is the same.

The packages are found from the code itself (``from warehouse.<package>`` and ``from schemas`` statements,
including imports inside functions), so a new import of the build pulls the package it imports into the digest.
Whole packages are digested, not single modules: a module reached only through a name looked up at run time is
still covered as long as its package is.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

BUILD_PACKAGE = "warehouse/build"
IMPORT = re.compile(rb"^\s*(?:from|import)\s+(warehouse\.\w+|schemas)\b", re.MULTILINE)


def _modules(root: Path, package: str) -> list[Path]:
    folder = root / package
    return sorted(p for p in folder.rglob("*.py") if "__pycache__" not in p.parts)


def _package(name: bytes) -> str:
    return name.decode().replace(".", "/")


def code_packages(root: Path) -> list[str]:
    """The packages (folders relative to ``root``) the build package imports, transitively, itself included."""
    found, todo = set(), [BUILD_PACKAGE]
    while todo:
        package = todo.pop()
        if package in found or not (root / package).is_dir():
            continue
        found.add(package)
        for module in _modules(root, package):
            todo += [_package(m) for m in IMPORT.findall(module.read_bytes())]
    return sorted(found)


def code_files(root: Path) -> Iterable[bytes]:
    """Each module of ``code_packages``: its path, then its bytes (for ``warehouse.build.inputs``' digest)."""
    for package in code_packages(root):
        for path in _modules(root, package):
            yield str(path.relative_to(root)).encode()
            yield path.read_bytes()
