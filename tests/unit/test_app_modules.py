"""The composition root and the S3 application, split by concern: what the split promised.

``andromede.app`` still exports every factory the command line, the benchmarks and the tests
import from it (they live in ``andromede.wiring``), and the modules of the split stay under
STYLE.md's 800 lines, so that wiring added later lands in a module of its concern.
"""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path

import pytest

import andromede.app

SRC = Path(andromede.app.__file__).parent
SPLIT = [
    SRC / "app.py",
    *sorted((SRC / "wiring").glob("*.py")),
    *(
        SRC / "s3" / f"{name}.py"
        for name in ("app", "admission", "operation_table", "request_records", "responses")
    ),
]


@pytest.mark.parametrize("name", andromede.app.__all__)
def test_every_name_of_the_application_module_is_there(name: str) -> None:
    exported = getattr(andromede.app, name)
    if inspect.isfunction(exported):
        # A factory is the wiring module's own function, not a copy a later edit would miss.
        home = importlib.import_module(exported.__module__)
        assert getattr(home, name) is exported


def test_the_wiring_modules_export_only_what_they_define() -> None:
    for path in sorted((SRC / "wiring").glob("*.py")):
        if path.name == "__init__.py":
            continue
        module = importlib.import_module(f"andromede.wiring.{path.stem}")
        for name in module.__all__:
            value = getattr(module, name)
            if inspect.isfunction(value):
                assert value.__module__ == module.__name__, (path.name, name)


@pytest.mark.parametrize("path", SPLIT, ids=lambda p: str(p.relative_to(SRC)))
def test_the_split_modules_stay_under_800_lines(path: Path) -> None:
    lines = path.read_text().count("\n")
    assert lines < 800, f"{path.name}: {lines} lines; split it by concern (STYLE.md, Size)"
    assert path.read_text().startswith('"""'), f"{path.name} has no module docstring"
