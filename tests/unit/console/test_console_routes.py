"""The console's routes are made once, at import, and shared by every console of the process
(decision 0421): making a console compiles none, and each request is served by the console
whose app it reached, never by another's."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from starlette import routing

from andromede.console.app import ConsoleApp
from support.console import ConsoleHarness, console_harness, sign_in_root


async def test_making_a_console_compiles_no_route(
    console: ConsoleHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    compiled: list[str] = []
    compile_path = routing.compile_path

    def counting(path: str) -> Any:
        compiled.append(path)
        return compile_path(path)

    monkeypatch.setattr(routing, "compile_path", counting)
    running = console.application._running
    assert running is not None
    ConsoleApp(running.console.console)
    assert compiled == []


async def test_two_consoles_of_one_process_each_serve_their_own(tmp_path: Path) -> None:
    async with (
        console_harness(tmp_path / "first") as first,
        console_harness(tmp_path / "second") as second,
    ):
        async with first.client() as client:
            await sign_in_root(first, client)
            session = client.cookies["andromede_console"]
            assert (await client.get("/buckets")).status_code == 200
        # The first console's session means nothing to the second: its own sessions answer.
        async with second.client() as other:
            other.cookies.set("andromede_console", session)
            refused = await other.get("/buckets")
        assert refused.status_code == 303
        assert refused.headers["location"].endswith("/login")
        async with first.client() as again:
            again.cookies.set("andromede_console", session)
            assert (await again.get("/buckets")).status_code == 200
