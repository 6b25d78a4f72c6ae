"""What the console's browser tests share: Debian's Chromium launched through Playwright, a
console user (an IAM user with an inline policy and a password), and a page opened on the
session's ``andromede serve`` that records what the browser reports and signs that user in.

Without Chromium (``apt-get install chromium``, scripts/install-system-deps.sh) or the
``playwright`` package the browser skips; ``ANDROMEDE_TEST_REQUIRE_ALL=1`` makes that a failure.
Playwright's own browsers are never downloaded: the tests launch /usr/bin/chromium.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from support.server import ServerProcess

__all__ = [
    "CHROMIUM",
    "PASSWORD",
    "ConsolePage",
    "chromium",
    "console_page",
    "console_user",
    "sign_in",
]

CHROMIUM = Path("/usr/bin/chromium")
PASSWORD = "Sovereign-Cloud-2026"


@contextmanager
def chromium() -> Iterator[Any]:
    """A headless Chromium, or the test skipped where it or Playwright is missing."""
    if not CHROMIUM.exists():
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            yield launched
        finally:
            launched.close()


def console_user(iam: Any, name: str, policy_name: str, document: str) -> None:
    """An IAM user allowed by ``document`` (its only inline policy) with PASSWORD to sign in."""
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName=policy_name, PolicyDocument=document)
    iam.create_login_profile(UserName=name, Password=PASSWORD)


class ConsolePage(NamedTuple):
    page: Any
    console: str  # the console's root URL, without a trailing slash
    # What the browser reports: a CSP violation (htmx injecting a style, an inline script)
    # or a script error shows here, and a test's flow asserts that nothing did.
    reported: list[str]


@contextmanager
def console_page(
    browser: Any, server: ServerProcess, *, timed: str | None = None, accept_downloads: bool = False
) -> Iterator[ConsolePage]:
    """A fresh browser context (its own cookies) and page on the console, closed on the way
    out; ``timed`` names the flow in a line saying how long it took, printed even when it
    failed, so that a slow run shows which flow was slow."""
    context = browser.new_context(locale="en-GB", accept_downloads=accept_downloads)
    page = context.new_page()
    page.set_default_timeout(20_000)
    reported: list[str] = []
    page.on("console", lambda message: reported.append(f"{message.type}: {message.text}"))
    page.on("pageerror", lambda error: reported.append(f"pageerror: {error}"))
    started = time.monotonic()
    try:
        yield ConsolePage(page, f"{server.api_endpoint}/console", reported)
    finally:
        context.close()
        if timed is not None:
            print(f"{timed}: {time.monotonic() - started:.1f} s")


def sign_in(page: Any, console: str, account: str, user: str, password: str = PASSWORD) -> None:
    """Sign ``user`` in from the login page; the console lands on the buckets page."""
    page.goto(f"{console}/login")
    page.fill("input[name=account]", account)
    page.fill("input[name=user]", user)
    page.fill("input[name=password]", password)
    page.click("#sign-in")
    page.wait_for_url(f"{console}/buckets")
