"""The console's two catalogues: the same messages in both, every message the code and the
templates use in them, and the choice of a language per request."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import andromede.console
from andromede.console.i18n import LOCALES, catalogue, choose_locale
from support.console import ConsoleHarness

_PACKAGE = Path(andromede.console.__file__).parent
_USED = re.compile(r'_\("((?:[^"\\]|\\.)+)"\)')


def _used_messages() -> set[str]:
    sources = [*_PACKAGE.glob("*.py"), *(_PACKAGE / "templates").glob("*.html")]
    return {m for source in sources for m in _USED.findall(source.read_text())}


def test_both_catalogues_hold_the_same_messages() -> None:
    english, french = catalogue("en").messages, catalogue("fr").messages
    assert set(english) == set(french)
    assert all(french.values()) and all(english.values())


def _message_ids(po_text: str) -> list[str]:
    """Every ``msgid`` of a ``.po`` file as written, its continuation lines joined."""
    ids: list[str] = []
    current: list[str] | None = None
    for line in po_text.splitlines():
        if line.startswith('msgid "'):
            current = [line[len("msgid ") :]]
            ids.append("")
        elif current is not None and line.startswith('"'):
            current.append(line)
        else:
            if current is not None:
                ids[-1] = "".join(part[1:-1] for part in current)
            current = None
    if current is not None:
        ids[-1] = "".join(part[1:-1] for part in current)
    return [message for message in ids if message]


@pytest.mark.parametrize("locale", LOCALES)
def test_no_message_is_defined_twice(locale: str) -> None:
    # Babel keeps the last of two definitions silently (and msgfmt refuses the file): two
    # changes appending the same message could leave a translation that nobody reviewed.
    po = _PACKAGE / "locale" / locale / "LC_MESSAGES" / "console.po"
    ids = _message_ids(po.read_text())
    assert len(ids) > 100
    assert sorted({m for m in ids if ids.count(m) > 1}) == []


def test_every_message_used_is_in_the_catalogues() -> None:
    used = _used_messages()
    assert len(used) > 30  # the pattern still finds the console's messages
    for locale in LOCALES:
        assert used <= set(catalogue(locale).messages), used - set(catalogue(locale).messages)


@pytest.mark.parametrize(
    ("cookie", "accept", "chosen"),
    [
        (None, "", "en"),
        (None, "fr-FR,fr;q=0.9,en;q=0.8", "fr"),
        (None, "de-DE, en;q=0.5, fr;q=0.7", "fr"),
        (None, "de, it", "en"),
        (None, "fr;q=0, en", "en"),
        (None, "fr;q=nonsense", "en"),
        ("en", "fr", "en"),
        ("fr", "en", "fr"),
        ("xx", "fr", "fr"),
    ],
)
def test_the_language_is_the_cookies_then_accept_languages(
    cookie: str | None, accept: str, chosen: str
) -> None:
    assert choose_locale(cookie, accept) == chosen


async def test_pages_speak_the_chosen_language(console: ConsoleHarness) -> None:
    async with console.client(**{"accept-language": "fr-FR,fr;q=0.9"}) as client:
        french = await client.get("/login")
        switched = await client.get("/language/en", params={"next": "/console/login"})
        english = await client.get("/login")
        away = await client.get("/language/fr", params={"next": "//evil.example/"})
        away_too = await client.get("/language/fr", params={"next": "https://evil.example/"})
    assert '<html lang="fr">' in french.text and "Se connecter" in french.text
    assert switched.status_code == 303 and switched.headers["location"] == "/console/login"
    cookie = switched.headers["set-cookie"]
    assert "andromede_console_lang=en" in cookie and "SameSite=Strict" in cookie
    assert '<html lang="en">' in english.text and "Sign in" in english.text
    assert away.headers["location"] == "/console/" == away_too.headers["location"]
