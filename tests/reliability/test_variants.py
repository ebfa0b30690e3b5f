"""`make test` (CI) exercises every fault path that `make reliability` does: each long variant (`@full_only`) has a
fast sibling in its module that runs without RELIABILITY_FULL."""

from __future__ import annotations

import ast
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _tests(module: Path) -> tuple[list[str], list[str]]:
    """(long variants, tests that run in `make test`) of a module."""
    long, fast = [], []
    for node in ast.parse(module.read_text()).body:
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
            decorators = {d.id if isinstance(d, ast.Name) else getattr(d, "attr", "") for d in node.decorator_list}
            (long if "full_only" in decorators else fast).append(node.name)
    return long, fast


def test_every_long_reliability_variant_has_a_fast_one_that_make_test_runs():
    modules = sorted(HERE.glob("test_*.py"))
    assert modules, "the reliability tests were not found"
    missing = []
    for module in modules:
        long, fast = _tests(module)
        if len(fast) < len(long):
            missing.append(f"{module.name}: long {long}, fast {fast}")
    assert not missing, "a long variant without a fast one:\n" + "\n".join(missing)
