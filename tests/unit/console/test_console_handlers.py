"""The pages' shared plumbing (console/handlers.py, decision 0195), on the running console:
a request without a session is sent to sign in; a form without the session's token is
refused and nothing is done; an API's refusal is shown on the page again, translated, with
its status and the fields as typed; an unticked deletion is not sent; a done change redirects.

The views are this test's own, wrapped as a page module wraps its; the console is the real
one of an application in process, the requests real Starlette requests with the cookies a
browser signed in through the console's own login would send."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlencode

import pytest
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from andromede.console.app import Console, Session
from andromede.console.handlers import action, page_read, posted, refusal, signed_in, typed_form
from andromede.console.wire import WireError
from support.console import ConsoleHarness, csrf, log_in

done: list[dict[str, str]] = []  # what the views were given, in order


@signed_in
async def _read(console: Console, request: Request, session: Session) -> Response:
    return PlainTextResponse(f"read by {session.principal.arn}")


@posted(max_fields=3)
async def _write(
    console: Console, request: Request, session: Session, fields: dict[str, str]
) -> Response:
    done.append(fields)
    return PlainTextResponse("written")


async def _page(
    console: Console,
    request: Request,
    session: Session,
    *,
    typed: Mapping[str, Mapping[str, str]] | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    shown = dict((typed or {}).get("create", {}))
    return PlainTextResponse(f"page error={error} typed={sorted(shown.items())}", status)


async def _create(wire: str, request: Request, session: Session, fields: dict[str, str]) -> str:
    if fields.get("name") == "taken":
        raise WireError("BucketAlreadyExists", "The requested bucket name is not available.", 409)
    done.append({"wire": wire, **fields})
    return "/console/done"


def _served(console: Console) -> str | None:
    return "the API"


def _not_served(console: Console) -> str | None:
    return None


_create_action = action(_page, _create, wire=_served, form="create")
_delete_action = action(_page, _create, wire=_served, confirmed=True)
_unserved_action = action(_page, _create, wire=_not_served)


def _request(
    harness: ConsoleHarness, method: str, cookies: Mapping[str, str], body: bytes = b""
) -> Request:
    headers = [(b"cookie", "; ".join(f"{k}={v}" for k, v in cookies.items()).encode())]
    headers.append((b"accept-language", b"fr"))
    if method == "POST":
        headers.append((b"content-type", b"application/x-www-form-urlencoded"))
    sent = [body]

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": sent.pop() if sent else b"", "more_body": False}

    scope = {
        "type": "http", "method": method, "path": "/console/test", "raw_path": b"/console/test",
        "query_string": b"", "headers": headers, "scheme": "http", "server": ("127.0.0.1", 9001),
        "client": ("127.0.0.1", 1), "root_path": "", "path_params": {},
    }  # fmt: skip
    return Request(scope, receive)


def _console(harness: ConsoleHarness) -> Console:
    running = harness.application._running
    assert running is not None
    return running.console.console


@pytest.fixture
async def signed_in_cookies(console: ConsoleHarness) -> dict[str, str]:
    """A session's cookie and its forms' token, signed in through the console's login."""
    await console.user_with_password(console.admin_tenant_id, "root")
    async with console.client() as client:
        assert (await log_in(client, "admin", "root")).status_code == 303
        token = await csrf(client)
        return {"andromede_console": client.cookies["andromede_console"], "csrf": token}


def _form(**fields: str) -> bytes:
    return urlencode(fields).encode()


async def test_no_session_is_sent_to_sign_in_whatever_the_method(
    console: ConsoleHarness,
) -> None:
    done.clear()
    real = _console(console)
    stale = {"andromede_console": "not-a-session"}
    for handler, method in ((_read, "GET"), (_write, "POST"), (_create_action, "POST")):
        answer = await handler(real, _request(console, method, stale, _form(name="x")))
        assert answer.status_code == 303
        assert answer.headers["location"] == "/console/login"
    assert done == []


async def test_a_page_is_read_and_a_form_checked_with_the_session(
    console: ConsoleHarness, signed_in_cookies: dict[str, str]
) -> None:
    done.clear()
    real, session = _console(console), {"andromede_console": signed_in_cookies["andromede_console"]}
    read = await _read(real, _request(console, "GET", session))
    assert read.status_code == 200 and read.body.startswith(b"read by arn:")
    # No token, or another's: refused (403, in the reader's language), the view not called.
    for token in ("", "0" * 64):
        refused = await _write(real, _request(console, "POST", session, _form(csrf=token, a="1")))
        assert refused.status_code == 403
        assert "Formulaire refusé" in bytes(refused.body).decode()
    assert done == []
    good = _form(csrf=signed_in_cookies["csrf"], a="1")
    written = await _write(real, _request(console, "POST", session, good))
    assert written.status_code == 200 and done == [{"csrf": signed_in_cookies["csrf"], "a": "1"}]


async def test_an_action_redirects_or_shows_the_refusal_with_the_form_as_typed(
    console: ConsoleHarness, signed_in_cookies: dict[str, str]
) -> None:
    done.clear()
    real, session = _console(console), {"andromede_console": signed_in_cookies["andromede_console"]}
    token = signed_in_cookies["csrf"]
    made = await _create_action(
        real, _request(console, "POST", session, _form(csrf=token, name="a"))
    )
    assert made.status_code == 303 and made.headers["location"] == "/console/done"
    assert done == [{"wire": "the API", "csrf": token, "name": "a"}]
    refused = await _create_action(
        real, _request(console, "POST", session, _form(csrf=token, name="taken"))
    )
    text = bytes(refused.body).decode()
    assert refused.status_code == 409
    assert "Ce nom de compartiment est déjà pris. (BucketAlreadyExists)" in text
    assert "('name', 'taken')" in text
    # Unticked, a deletion is not sent (400); ticked, it is.
    unticked = await _delete_action(real, _request(console, "POST", session, _form(csrf=token)))
    assert unticked.status_code == 400 and len(done) == 1
    ticked = await _delete_action(
        real, _request(console, "POST", session, _form(csrf=token, confirm="yes"))
    )
    assert ticked.status_code == 303 and len(done) == 2
    # Not served: the page again as it is (it says so), nothing sent.
    unserved = await _unserved_action(real, _request(console, "POST", session, _form(csrf=token)))
    assert unserved.status_code == 200 and len(done) == 2


async def test_refusal_is_the_translated_text_and_the_status(console: ConsoleHarness) -> None:
    real = _console(console)
    error = WireError("NoSuchBucket", "The specified bucket does not exist.", 404)
    text, status = refusal(real, _request(console, "GET", {}), error)
    assert (text, status) == ("Ce compartiment n\u2019existe pas. (NoSuchBucket)", 404)


async def test_page_read_shows_the_reading_the_absence_or_the_first_refusal(
    console: ConsoleHarness,
) -> None:
    """``page_read``, which the Signer and code signing pages share (decision 0406): the
    reading; the API's absence (its words, 404) without a call; the reading's refusal,
    unless the page already shows an action's."""
    real, request = _console(console), _request(console, "GET", {})
    calls: list[str] = []

    async def read(wire: str) -> list[str]:
        calls.append(wire)
        return ["row"]

    async def refused(wire: str) -> list[str]:
        raise WireError("NoSuchBucket", "The specified bucket does not exist.", 404)

    def absent(console: Console, request: Request) -> tuple[str, int]:
        return "not served here", 404

    shown = await page_read(real, request, "api", read, [], absent=absent, error=None, status=200)
    assert shown == (["row"], None, 200) and calls == ["api"]
    unserved = await page_read(real, request, None, read, [], absent=absent, error=None, status=200)
    assert unserved == ([], "not served here", 404) and calls == ["api"]
    refusal_shown = await page_read(
        real, request, "api", refused, [], absent=absent, error=None, status=200
    )
    assert refusal_shown == ([], "Ce compartiment n\u2019existe pas. (NoSuchBucket)", 404)
    # An action's refusal, shown again with the page, comes before the reading's own.
    after_action = await page_read(
        real, request, "api", refused, [], absent=absent, error="taken", status=409
    )
    assert after_action == ([], "taken", 409)
    assert typed_form({"create": {"name": "a"}}, "create") == {"name": "a"}
    assert typed_form({"create": {"name": "a"}}, "edit") == {} == typed_form(None, "create")
