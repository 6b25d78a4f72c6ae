"""S3 request metrics configurations (decision 0187): which requests of a bucket each
``MetricsConfiguration`` counts into CloudWatch's ``AWS/S3`` 1-minute request metrics.

A bucket's configurations are one of its documents (``METRICS_DOCUMENT``, a format-versioned
JSON list, up to ``s3_metrics_max_configurations``, S3's 1,000), written by compare-and-set
as the inventory configurations are. A configuration's filter is S3's: none (every request
of the bucket), or a key prefix, object tags, an access point ARN, or several of them
(``And``), all of which a request must match. What the metrics are and how they are counted
is ``andromede.s3_request_metrics``'.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

__all__ = [
    "METRICS_DOCUMENT",
    "MetricsConfiguration",
    "metrics_from_text",
    "metrics_to_text",
]

METRICS_DOCUMENT: Final = "metrics"
_FORMAT_VERSION: Final = 1


@dataclass(frozen=True, slots=True)
class MetricsConfiguration:
    """One ``MetricsConfiguration``. ``has_filter`` False: no ``Filter`` element (the whole
    bucket); True with nothing in it cannot be (S3 refuses an empty filter). ``use_and``:
    the filter was written as ``And`` (kept so that Get answers what Put took)."""

    config_id: str
    prefix: str | None = None
    tags: tuple[tuple[str, str], ...] = ()
    access_point_arn: str | None = None
    use_and: bool = False

    @property
    def has_filter(self) -> bool:
        return self.prefix is not None or bool(self.tags) or self.access_point_arn is not None

    def matches(
        self,
        key: str | None,
        tags: Mapping[str, str] | None,
        access_point_arn: str | None,
    ) -> bool:
        """Whether a request counts for this configuration. ``key`` None: a bucket-level
        request (a listing), which has no key to match a prefix with; ``tags`` None: the
        request does not know its object's tags, so a tag filter does not match it."""
        if self.prefix is not None and (key is None or not key.startswith(self.prefix)):
            return False
        if self.tags and (tags is None or any(tags.get(k) != v for k, v in self.tags)):
            return False
        return self.access_point_arn is None or self.access_point_arn == access_point_arn

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.config_id,
            "prefix": self.prefix,
            "tags": [list(tag) for tag in self.tags],
            "ap": self.access_point_arn,
            "and": self.use_and,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> MetricsConfiguration:
        return cls(
            config_id=str(data["id"]),
            prefix=data.get("prefix"),
            tags=tuple((str(k), str(v)) for k, v in data.get("tags") or ()),
            access_point_arn=data.get("ap"),
            use_and=bool(data.get("and")),
        )


def metrics_to_text(configs: Sequence[MetricsConfiguration]) -> str | None:
    """The bucket's document (None: it has no configuration left)."""
    if not configs:
        return None
    return json.dumps(
        {"v": _FORMAT_VERSION, "configurations": [c.to_json() for c in configs]},
        separators=(",", ":"),
    )


def metrics_from_text(text: str | None) -> list[MetricsConfiguration]:
    if text is None:
        return []
    data = json.loads(text)
    return [MetricsConfiguration.from_json(item) for item in data["configurations"]]
