"""The benchmarks use the package as its users do: public names only, and nothing from tests/."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "bench"


def _imports(path: Path) -> Iterator[tuple[str, str]]:
    """(module, name) for each name a file imports, at module level or inside functions."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                yield node.module, alias.name
        elif isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, ""


def test_bench_imports_no_private_name_and_nothing_from_tests() -> None:
    scripts = sorted(BENCH.glob("*.py"))
    assert len(scripts) > 10
    found = []
    for path in scripts:
        for module, name in _imports(path):
            parts = module.split(".")
            private = any(p.startswith("_") for p in parts[1:]) or name.startswith("_")
            wrong = parts[0] == "tests" or (parts[0] == "uncertain" and private)
            if wrong:
                found.append(f"{path.name}: from {module} import {name}")
    assert found == []
