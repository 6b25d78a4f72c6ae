"""The policy engine is pure: it imports the standard library, itself and andromede.errors only,
so the S3 hot path and every bounded context can use it without pulling I/O along."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import andromede.iam.policy as policy_package

ALLOWED_PROJECT_MODULES = ("andromede.errors", "andromede.iam.policy")
# Modules that would mean I/O or a clock read behind the caller's back.
FORBIDDEN_STDLIB = {"os", "socket", "subprocess", "asyncio", "sqlite3", "logging", "time"}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_policy_package_imports_nothing_impure() -> None:
    package_dir = Path(policy_package.__file__).parent
    sources = sorted(package_dir.glob("*.py"))
    assert sources
    for source in sources:
        for name in _imports(source):
            top = name.split(".")[0]
            if top == "andromede":
                assert name.startswith(ALLOWED_PROJECT_MODULES), (source.name, name)
            else:
                assert top in sys.stdlib_module_names or top == "__future__", (source.name, name)
                assert top not in FORBIDDEN_STDLIB, (source.name, name)
