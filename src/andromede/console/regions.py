"""The Region a regional console page makes its calls in (decision 0406): the page's Region
chooser, the one Region of the page's address (``?region=``), and the calls' origin that
names it.

A page of a regional API (EventBridge's connections and API destinations) lists, creates,
edits and deletes in the Region the address names — the console's own Region when it names
none — among the Regions this gateway serves. The API picks the Region's store from the
in-process call's ``TRUSTED_REGION_SCOPE_KEY``, as it picks it from a signed call's SigV4
scope, and refuses one it does not serve; the page refuses it first, before any call. Each
form of the page posts to an address with the same ``?region=``, so a change and the page
shown after it stay in the Region chosen.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Final
from urllib.parse import quote

from starlette.requests import Request

from andromede.console.handlers import FormFault, words
from andromede.http.asgi import TRUSTED_REGION_SCOPE_KEY
from andromede.http.response import Scope

if TYPE_CHECKING:
    from andromede.console.app import Console

__all__ = ["REGION_PARAMETER", "RegionChoice", "region_choice"]

REGION_PARAMETER: Final = "region"
_NAME_LENGTH: Final = 64  # a Region's name as a page echoes it back


@dataclass(frozen=True, slots=True)
class RegionChoice:
    """The Region a page's address names (``region``), the console's own (``home``) and
    those the chooser offers (``offered``: the console's first, then the others served)."""

    region: str
    home: str
    offered: tuple[str, ...]

    @property
    def served(self) -> bool:
        return self.region in self.offered

    @property
    def query(self) -> str:
        """What a page's addresses end with to stay in the Region: "" for the console's."""
        if self.region == self.home:
            return ""
        return f"?{REGION_PARAMETER}={quote(self.region, safe='')}"

    def origin(self, request: Request) -> Scope:
        """The calls' origin: the request's, naming the Region when it is not the console's
        (whose calls name none, as before). A FormFault (404) for a Region not served."""
        if not self.served:
            _ = words(request)
            raise FormFault(
                _("This console serves no Region {region}.").format(region=self.region), 404
            )
        if self.region == self.home:
            return request.scope
        return {**request.scope, TRUSTED_REGION_SCOPE_KEY: self.region}

    def request(self, request: Request) -> Request:
        """``request`` as made in the Region (its scope ``origin``'s), for a page's helpers
        that read their calls' origin from a request (decision 0419); a FormFault likewise."""
        return Request(self.origin(request), request.receive)

    def href(self, path: str) -> str:
        """``path`` (which may have a query already) kept in the Region."""
        if not self.query:
            return path
        return f"{path}&{self.query[1:]}" if "?" in path else f"{path}{self.query}"


def region_choice(console: Console, request: Request) -> RegionChoice:
    """The Region ``request``'s address names among those this gateway serves."""
    settings = console.settings
    home = settings.region
    offered = (home, *sorted(settings.served_region_names - {home}))
    asked = request.query_params.get(REGION_PARAMETER, "").strip()[:_NAME_LENGTH]
    return RegionChoice(asked or home, home, offered)
