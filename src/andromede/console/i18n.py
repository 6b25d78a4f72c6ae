"""The console's two languages: one gettext catalogue per locale, read from its ``.po`` file
with Babel at start-up, and the choice of one per request (the language cookie the switch sets,
else ``Accept-Language``, else English)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Final

from babel.messages.pofile import read_po

__all__ = ["DEFAULT_LOCALE", "LOCALES", "Catalogue", "catalogue", "choose_locale"]

LOCALES: Final = ("en", "fr")
DEFAULT_LOCALE: Final = "en"
_LOCALE_DIR = Path(__file__).parent / "locale"


@dataclass(frozen=True, slots=True)
class Catalogue:
    locale: str
    messages: Mapping[str, str]

    def gettext(self, message: str) -> str:
        """The translation; the message itself where the catalogue has none (a test checks
        that both catalogues hold every message the templates use)."""
        return self.messages.get(message) or message


@cache
def catalogue(locale: str) -> Catalogue:
    with (_LOCALE_DIR / locale / "LC_MESSAGES" / "console.po").open("rb") as po:
        parsed = read_po(po, locale=locale)
    messages = {str(m.id): str(m.string) for m in parsed if m.id and isinstance(m.id, str)}
    return Catalogue(locale, messages)


def choose_locale(cookie: str | None, accept_language: str) -> str:
    """The switch's cookie first; then the first supported language of ``Accept-Language`` by
    quality (``fr-CA;q=0.8`` counts as ``fr``); English otherwise."""
    if cookie in LOCALES:
        return cookie
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(accept_language.split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        language = tag.strip().lower().split("-")[0]
        if language in LOCALES and quality > 0:
            ranked.append((-quality, position, language))
    return min(ranked)[2] if ranked else DEFAULT_LOCALE
