"""A dashboard text widget's Markdown as the console renders it (decision 0111, session 48):
a safe subset — headings, emphasis, links, lists, block quotes, rules and code — through
markdown-it-py (CommonMark, a maintained parser already installed as rich's), never the HTML
the text may hold.

The body is whatever a principal allowed PutDashboard wrote, so the renderer is fenced in:
raw HTML is not parsed (``html: False``: ``<script>`` is shown as text, escaped), images are
off (a dashboard would fetch what its author names), a link's target must be ``http``,
``https`` or ``mailto`` or a path on this site (else the link stays text), and every link
gets ``rel="nofollow noopener noreferrer"``. Headings start at ``<h3>`` under the widget's
``<h2>`` title so the page's outline stays whole. The console's CSP (no inline script or
style) is the second fence.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Final
from urllib.parse import urlsplit

from markupsafe import Markup

if TYPE_CHECKING:
    from markdown_it import MarkdownIt

__all__ = ["render_markdown"]

_SCHEMES: Final = frozenset({"http", "https", "mailto"})
# The widget's title is an <h2>: a Markdown "#" is an <h3>, deeper ones follow, up to <h6>.
_HEADING_SHIFT: Final = 2


def _safe_link(url: str) -> bool:
    """A target of one of the allowed schemes, or one without a scheme (a path, an anchor);
    markdown-it's own refusals (``javascript:``, ``vbscript:``, ``file:``, ``data:``) first."""
    from markdown_it.common.normalize_url import validateLink

    if not validateLink(url):
        return False
    text = url.strip()
    try:
        scheme = urlsplit(text).scheme.lower()
    except ValueError:
        return False
    if not scheme:
        # "//host" is another site with the page's scheme: allowed as https would be.
        return not text.lower().startswith(("javascript", "data", "vbscript"))
    return scheme in _SCHEMES


# Made by the first text widget shown, not at start: markdown-it's import and the parser's
# rules were 0.03 s of every start of the server (decision 0347).
@cache
def _parser() -> MarkdownIt:
    from markdown_it import MarkdownIt

    parser = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    parser.disable(["image", "html_block", "html_inline"])
    parser.validateLink = _safe_link  # type: ignore[method-assign]
    return parser


def render_markdown(text: str) -> Markup:
    """The text's HTML, safe to place in the page as is."""
    parser = _parser()
    tokens = parser.parse(text)
    for token in tokens:
        if token.type in ("heading_open", "heading_close"):
            level = min(6, int(token.tag[1:]) + _HEADING_SHIFT)
            token.tag = f"h{level}"
        for child in token.children or ():
            if child.type == "link_open":
                child.attrSet("rel", "nofollow noopener noreferrer")
    return Markup(parser.renderer.render(tokens, parser.options, {}))  # noqa: S704
