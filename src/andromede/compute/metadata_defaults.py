"""A tenant's instance metadata defaults (decision 0145): the account-level values of EC2's
ModifyInstanceMetadataDefaults, which a launch takes for each metadata option it does not
name. One record per tenant, keyed by its id; a field None is "no preference"."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

__all__ = ["MetadataDefaults"]

_FORMAT_VERSION: Final = 1


@dataclass(frozen=True, slots=True)
class MetadataDefaults:
    tenant_id: str
    http_tokens: str | None = None
    hop_limit: int | None = None
    http_endpoint: str | None = None
    instance_metadata_tags: str | None = None
    format_version: int = _FORMAT_VERSION
    revision: int = 0

    @property
    def resource_id(self) -> str:
        return self.tenant_id

    def chosen(self) -> dict[str, str | int]:
        """The defaults set, by the field names of :class:`~andromede.compute.model.
        MetadataOptions`."""
        found: dict[str, str | int | None] = {
            "http_tokens": self.http_tokens,
            "hop_limit": self.hop_limit,
            "http_endpoint": self.http_endpoint,
            "instance_metadata_tags": self.instance_metadata_tags,
        }
        return {name: value for name, value in found.items() if value is not None}
