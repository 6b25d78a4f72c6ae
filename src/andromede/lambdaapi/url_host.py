"""Whether a request on the shared listener is for a Lambda function URL (decision 0312),
from its ``Host`` alone: ``<url-id>.lambda-url.<region>.<domain>``, the url-id 32 lowercase
letters and digits. The routing cannot read the settings, so the domain is checked by
:class:`~andromede.lambdaapi.url_front.FunctionUrlApp`, which refuses a host of another
domain as it refuses an unknown url-id: a bucket named ``<32 letters>.lambda-url.<region>``
is therefore reached path-style only (accepted, as decision 0286 accepted for Code.Location's
paths)."""

from __future__ import annotations

import re
from typing import Final

__all__ = ["FUNCTION_URLS", "is_function_url_host"]

FUNCTION_URLS: Final = "lambda-url"
_HOST: Final = re.compile(rb"[a-z0-9]{32}\.lambda-url\.[a-z0-9-]+\.[^:]+(:\d+)?", re.IGNORECASE)


def is_function_url_host(raw_headers: list[tuple[bytes, bytes]]) -> bool:
    return any(
        name.lower() == b"host" and _HOST.fullmatch(value) is not None
        for name, value in raw_headers
    )
