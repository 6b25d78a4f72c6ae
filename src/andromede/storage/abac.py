"""A bucket's ABAC status (decision 0418): whether its tags take part in access decisions as
``aws:ResourceTag/<key>``. Kept as a bucket document of this kind, present only when Enabled
(the default, Disabled, is no row), and read with the bucket on every request together with
the bucket's tags — the tags only when the document is there (``Bucket.abac_tags``)."""

from __future__ import annotations

import json
from typing import Final

__all__ = ["ABAC_DOCUMENT", "ABAC_ENABLED"]

ABAC_DOCUMENT: Final = "abac"
# The document's one form: an absent row is Disabled.
ABAC_ENABLED: Final = json.dumps({"status": "Enabled"})
