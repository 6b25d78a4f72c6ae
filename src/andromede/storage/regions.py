"""Regional blob stores: which blob store holds the bytes of each region a process serves.

A bucket belongs to one region and every blob of its objects is written to, read from and
deleted in that region's store only; a segment (or part) records the region it was written in,
so reading it back is one dictionary look-up. A process opens the stores of the regions it
serves and no other (a gateway in one jurisdiction needs no credentials for another's pools):
asking for another region is :class:`RegionNotServed`.
"""

from __future__ import annotations

from collections.abc import Mapping

from andromede.storage.blobs import BlobStore
from andromede.storage.errors import RegionNotServed

__all__ = ["RegionalBlobs"]


class RegionalBlobs:
    """The blob store of each served region; ``None`` names the default region, where blobs
    written before regions existed live."""

    def __init__(self, stores: Mapping[str, BlobStore], default_region: str) -> None:
        self.default_region = default_region
        self._stores: dict[str | None, BlobStore] = {name: store for name, store in stores.items()}
        if default_region in stores:
            self._stores[None] = stores[default_region]
        self._everywhere: BlobStore | None = None

    @classmethod
    def single(cls, store: BlobStore, default_region: str = "") -> RegionalBlobs:
        """One store for every region: a deployment or a test that does not separate them."""
        regional = cls({}, default_region)
        regional._everywhere = store
        return regional

    @property
    def regions(self) -> dict[str, BlobStore]:
        """The served regions by name (empty for :meth:`single`)."""
        return {name: store for name, store in self._stores.items() if name is not None}

    def serves(self, region: str) -> bool:
        return self._everywhere is not None or region in self._stores

    def store(self, region: str | None) -> BlobStore:
        """The store of ``region`` (None: the default region's). RegionNotServed."""
        found = self._stores.get(region)
        if found is not None:
            return found
        if self._everywhere is not None:
            return self._everywhere
        raise RegionNotServed(region or self.default_region)
