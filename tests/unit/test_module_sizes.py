"""Every module of ``src/andromede`` stays under STYLE.md's 800 lines (decision 0155): the last
ones over it were split by concern, and a module that grows past it again fails here, naming
itself, rather than waiting for a reader to find it."""

from __future__ import annotations

from pathlib import Path

import andromede

SOURCE = Path(andromede.__file__).parent
LIMIT = 800


def test_every_module_is_under_800_lines() -> None:
    sizes = {
        path.relative_to(SOURCE).as_posix(): len(path.read_text(encoding="utf-8").splitlines())
        for path in SOURCE.rglob("*.py")
    }
    assert len(sizes) > 100  # the walk found the package, not an empty folder
    over = {name: lines for name, lines in sizes.items() if lines >= LIMIT}
    assert not over, f"split by concern (STYLE.md, Size; decision 0155): {over}"
