"""The access log line: formatted as asked, levels and handlers honoured, no caller look-up."""

from __future__ import annotations

import logging

import pytest

from andromede.http.access import log_access


def test_a_line_reaches_the_handlers_formatted(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="andromede.access"):
        log_access(logging.INFO, "%s %s %d", "RID", "GetObject", 200)
    [record] = [r for r in caplog.records if r.name == "andromede.access"]
    assert record.getMessage() == "RID GetObject 200"
    assert record.levelno == logging.INFO


def test_a_disabled_level_builds_nothing(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    def must_not_build(*args: object, **kwargs: object) -> logging.LogRecord:
        raise AssertionError("a record was built for a disabled level")

    monkeypatch.setattr(logging.Logger, "makeRecord", must_not_build)
    with caplog.at_level(logging.WARNING, logger="andromede.access"):
        log_access(logging.INFO, "%s", "quiet")
    assert not [r for r in caplog.records if r.name == "andromede.access"]


def test_no_caller_look_up(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    def must_not_walk(*args: object, **kwargs: object) -> tuple[str, int, str, None]:
        raise AssertionError("the stack was walked for an access line")

    monkeypatch.setattr(logging.Logger, "findCaller", must_not_walk)
    with caplog.at_level(logging.INFO, logger="andromede.access"):
        log_access(logging.WARNING, "%s", "served")
    assert [r.getMessage() for r in caplog.records if r.name == "andromede.access"] == ["served"]
