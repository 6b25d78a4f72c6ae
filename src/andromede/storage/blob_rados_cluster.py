"""The process's librados client, shared by the blob stores of every pool, and its replacement
when the cluster looks gone ("Recovery" in ``blob_rados.py``'s docstring).

Split off ``blob_rados.py`` for size.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import rados

from andromede.storage.blob_rados_ops import (
    DEFAULT_READ_BLOCK_SIZE,
    DEFAULT_STRIPE_SIZE,
    _translate,
)
from andromede.storage.blob_rados_store import RadosBlobStore
from andromede.storage.errors import BlobError, BlobStoreUnavailable

__all__ = ["RadosCluster", "RadosConfig"]

# A replacement this long after the previous one starts its back-off afresh.
_RECONNECT_CALM = 60.0
_DEFAULT_RECONNECT_DELAY = 0.5

# The name the module had before it was split: operators' log filters keep working.
_log = logging.getLogger("andromede.storage.blob_rados")


@dataclass(frozen=True, slots=True)
class RadosConfig:
    """How to reach the cluster: a ceph.conf, a keyring and a cephx user (``client.<id>``)."""

    conf_file: Path
    keyring: Path | None = None
    user: str = "client.admin"
    connect_timeout: float = 10.0
    op_timeout: float = 30.0
    # Seconds between attempts to connect a new client: doubled after each failure, up to
    # the cap (settings ceph_reconnect_delay and ceph_reconnect_delay_max).
    reconnect_delay: float = _DEFAULT_RECONNECT_DELAY
    reconnect_delay_max: float = 15.0


class RadosCluster:
    """One librados client for the process, shared by the blob stores of every pool; replaced
    by a new one when the cluster looks gone (see "Recovery" in the module docstring)."""

    def __init__(self, client: Any, config: RadosConfig | None = None) -> None:
        self._client = client
        self._config = config
        self._stores: weakref.WeakSet[RadosBlobStore] = weakref.WeakSet()
        self._reconnecting: asyncio.Task[None] | None = None
        self._retired: set[asyncio.Task[None]] = set()
        self._closed = False
        self.reconnections = 0  # how many times a new client took over (logs, tests)
        # The back-off carries over from one replacement to the next when they come close
        # together (an OSD frozen, not dead, times out again on every new client).
        self._delay = config.reconnect_delay if config else _DEFAULT_RECONNECT_DELAY
        self._last_reconnected = -math.inf

    @classmethod
    async def connect(cls, config: RadosConfig) -> RadosCluster:
        """Connect, or BlobStoreUnavailable after ``connect_timeout`` seconds."""
        return cls(await _connect_client(config), config)

    async def blob_store(
        self,
        pool: str,
        *,
        namespace: str = "",
        stripe_size: int = DEFAULT_STRIPE_SIZE,
        writes_in_flight: int = 4,
        reads_in_flight: int = 4,
        read_block_size: int = DEFAULT_READ_BLOCK_SIZE,
    ) -> RadosBlobStore:
        """A blob store on ``pool`` (BlobError if the pool does not exist)."""
        ioctx = await _open_ioctx(self._client, pool, namespace)
        store = RadosBlobStore(
            ioctx,
            stripe_size=stripe_size,
            writes_in_flight=writes_in_flight,
            reads_in_flight=reads_in_flight,
            read_block_size=read_block_size,
            namespace=namespace,
            on_unavailable=self._cluster_away if self._config is not None else None,
        )
        self._stores.add(store)
        return store

    async def blob_stores_by_region(
        self, pools: Mapping[str, str], **options: Any
    ) -> dict[str, RadosBlobStore]:
        """One store per region, from a region → pool mapping: a region's data stays in its
        pool."""
        return {region: await self.blob_store(pool, **options) for region, pool in pools.items()}

    async def close(self) -> None:
        self._closed = True
        if self._reconnecting is not None:
            self._reconnecting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reconnecting
        for store in list(self._stores):
            await store.close()
        self._stores.clear()
        for task in list(self._retired):
            task.cancel()
        await asyncio.to_thread(self._client.shutdown)

    # -- recovery -----------------------------------------------------------------------------
    def _cluster_away(self) -> None:
        """An operation found the cluster away: replace the client (once at a time)."""
        config = self._config
        if config is None or self._closed or self._reconnecting is not None:
            return
        _log.warning("the Ceph cluster does not answer: connecting a new librados client")
        old = self._client
        stores = list(self._stores)
        # Fail fast from now on: requests get 503 at once while the new client connects.
        retired = [store._detach() for store in stores]
        self._reconnecting = asyncio.ensure_future(self._reconnect(config, stores))
        self._retire(old, [ioctx for ioctx in retired if ioctx is not None], config.op_timeout)

    async def _reconnect(self, config: RadosConfig, stores: list[RadosBlobStore]) -> None:
        if time.monotonic() - self._last_reconnected > _RECONNECT_CALM:
            self._delay = config.reconnect_delay
        else:
            await asyncio.sleep(self._delay)
            self._delay = min(self._delay * 2, config.reconnect_delay_max)
        try:
            while True:
                try:
                    client = await _connect_client(config)
                except BlobError as exc:
                    _log.info("Ceph still away (%s); next try in %.1f s", exc, self._delay)
                else:
                    try:
                        ioctxs = [await _open_ioctx(client, s.pool, s.namespace) for s in stores]
                    except BlobError as exc:
                        _log.info(
                            "Ceph pools not open yet (%s); next try in %.1f s", exc, self._delay
                        )
                        await asyncio.to_thread(client.shutdown)
                    else:
                        self._client = client
                        for store, ioctx in zip(stores, ioctxs, strict=True):
                            store._attach(ioctx)
                        self.reconnections += 1
                        self._last_reconnected = time.monotonic()
                        _log.warning("a new librados client is connected to the Ceph cluster")
                        return
                await asyncio.sleep(self._delay)
                self._delay = min(self._delay * 2, config.reconnect_delay_max)
        finally:
            self._reconnecting = None

    def _retire(self, client: Any, ioctxs: list[Any], op_timeout: float) -> None:
        """Shut the old client down once what is still in flight on it had its timeout:
        librados then has called every completion, and no caller waits on it any more."""
        grace = op_timeout + 5.0

        async def shut_down() -> None:
            await asyncio.sleep(grace)
            for ioctx in ioctxs:
                with contextlib.suppress(rados.Error):
                    await asyncio.to_thread(ioctx.close)
            with contextlib.suppress(rados.Error):
                await asyncio.to_thread(client.shutdown)

        task = asyncio.ensure_future(shut_down())
        self._retired.add(task)
        task.add_done_callback(self._retired.discard)


async def _connect_client(config: RadosConfig) -> Any:
    """A connected librados client, or BlobStoreUnavailable after ``connect_timeout``."""
    # librados takes whole seconds here. The binding ignores connect()'s own timeout
    # argument: client_mount_timeout is what bounds the connection.
    op_timeout = str(max(1, math.ceil(config.op_timeout)))
    options = {
        "rados_osd_op_timeout": op_timeout,
        "rados_mon_op_timeout": op_timeout,
        "client_mount_timeout": str(max(1, math.ceil(config.connect_timeout))),
    }
    if config.keyring is not None:
        options["keyring"] = str(config.keyring)
    try:
        client = rados.Rados(conffile=str(config.conf_file), name=config.user, conf=options)
    except rados.Error as exc:
        raise BlobError(f"cannot configure librados from {config.conf_file}: {exc}") from exc
    try:
        await asyncio.to_thread(client.connect)
    except rados.Error as exc:
        await asyncio.to_thread(client.shutdown)
        raise BlobStoreUnavailable(
            f"cannot connect to the Ceph cluster of {config.conf_file} as {config.user}: {exc}"
        ) from exc
    return client


async def _open_ioctx(client: Any, pool: str, namespace: str) -> Any:
    try:
        ioctx = await asyncio.to_thread(client.open_ioctx, pool)
    except rados.Error as exc:
        raise _translate(exc, f"cannot open pool {pool}") from exc
    ioctx.set_namespace(namespace)
    return ioctx
