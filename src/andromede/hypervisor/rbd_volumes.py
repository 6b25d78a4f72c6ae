"""Instance volumes in Ceph RBD: nothing of a volume on the host, so a disk outlives its host.

The format is the file backend's, qcow2 with LUKS-encrypted clusters, but each qcow2 is an RBD
image that QEMU opens through its rbd block driver (Debian's ``qemu-block-extra``); librbd
(Debian's ``python3-rbd``) makes, renames and removes images. In the pool (and the namespace
of ``hypervisor_rbd_namespace``)::

    base-<digest>              an image imported once from the host's verified copy of it
      @base                    (image_cache.py), plaintext raw (images are not tenant data at
                               rest: the image folder holds them as files too), named by its
                               SHA-256, with one protected snapshot that volumes are cloned from
    <volume-id>.parent         an RBD clone of base-<digest>@base: costs no data, and makes
                               Ceph count the volumes that use a base (the last one's deletion
                               removes it: unprotecting a snapshot that has clones fails)
    <volume-id>                qcow2 + LUKS, an overlay whose backing is <volume-id>.parent,
                               or self-contained (blank, or copied from a snapshot)
    <snapshot-id>              qcow2 + LUKS, self-contained
    <name>.partial             being written; renamed when whole, so a crash leaves no
                               half-made volume or snapshot under its real name

Why qcow2 over RBD rather than raw LUKS clones, and what it costs:
docs/decisions/0018-rbd-volumes.md.

Secrets: the volume's data key is a LUKS passphrase, as with files (pipes to qemu-img, QMP
``object-add`` to QEMU). The cephx key of ``ceph_user`` is read from ``ceph_keyring`` and reaches
QEMU the same way (a ``secret`` object the rbd driver names in ``key-secret``), so QEMU needs no
keyring file. A new qcow2 is made in memory around a LUKS header from cryptsetup
(:mod:`andromede.hypervisor.qcow2`) and written with librbd; only without cryptsetup does
``qemu-img create`` make it, through a legacy ``rbd:`` filename that names the keyring's *path*.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import hashlib
import json
import logging
import math
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from andromede.compute.driver import ImageBacking, SnapshotBacking, VolumeSpec
from andromede.hypervisor.errors import HypervisorError, InstanceBusy, VolumeNotFound
from andromede.hypervisor.images import QemuImg
from andromede.hypervisor.qcow2 import EncryptedQcow2Layout
from andromede.hypervisor.volumes import GIB, safe_id

__all__ = ["RbdConfig", "RbdVolumes", "read_cephx_key"]

logger = logging.getLogger(__name__)

_T = TypeVar("_T")

CEPHX_SECRET = "ceph-key"  # noqa: S105 - the id (not the value) of the cephx key's secret object, in QEMU and qemu-img
BASE_SNAPSHOT = "base"
_PARENT = ".parent"
_PARTIAL = ".partial"
_SECTOR = 512
# Rounds of "look at the base, import / protect / clone it" before giving up: each round that
# fails does so because another host is importing or releasing the same base at that moment.
_BASE_ATTEMPTS = 6


@dataclass(frozen=True, slots=True)
class RbdConfig:
    """Where RBD volumes live and how to reach the cluster; every value a setting."""

    conf_file: Path
    keyring: Path
    user: str = "client.andromede"
    pool: str = "andromede-volumes"
    namespace: str = ""
    connect_timeout: float = 10.0
    op_timeout: float = 30.0
    # A QEMU that died without closing an image leaves its watch on it until Ceph times the
    # watch out (osd_client_watch_timeout, 30 s); librbd refuses to remove a watched image.
    release_timeout: float = 45.0

    @property
    def user_id(self) -> str:
        """The cephx name without its type (``andromede``): what QEMU and qemu-img take."""
        return self.user.removeprefix("client.")


def read_cephx_key(keyring: Path, user: str) -> str:
    """The base64 key of ``user`` (``client.NAME``) in a Ceph keyring file."""
    try:
        text = keyring.read_text()
    except OSError as exc:
        raise HypervisorError(f"cannot read the Ceph keyring {keyring}: {exc.strerror}") from None
    section = None
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("[") and stripped.endswith("]"):
            section = stripped[1:-1].strip()
        elif section == user:
            name, _, value = stripped.partition("=")
            if name.strip() == "key" and value.strip():
                return value.strip()
    raise HypervisorError(f"the Ceph keyring {keyring} holds no key for {user}")


class _BaseState(enum.Enum):
    ABSENT = "absent"
    READY = "ready"  # its snapshot exists and is protected: clones can be made
    UNPROTECTED = "unprotected"  # a release is under way, or crashed half-way
    NO_SNAPSHOT = "no-snapshot"


class RbdVolumes:
    """:class:`~andromede.hypervisor.volumes.VolumeBackend` over a Ceph RBD pool: every host
    that reaches the pool (and namespace) opens every volume and snapshot in it."""

    def __init__(self, config: RbdConfig, img: QemuImg) -> None:
        self._config = config
        self._img = img
        self._cephx_key = read_cephx_key(config.keyring, config.user)
        self._cluster: Any = None
        self._ioctx: Any = None
        self._connecting = asyncio.Lock()
        self._base_locks: dict[str, asyncio.Lock] = {}

    # -- the cluster ------------------------------------------------------------------------

    async def _call(self, work: Callable[[Any], _T]) -> _T:
        """``work(ioctx)`` in a thread (librbd blocks), librados' errors made ours."""
        ioctx = await self._connected()
        try:
            return await asyncio.to_thread(work, ioctx)
        except HypervisorError:
            raise
        except Exception as exc:
            raise _translate(exc) from exc

    async def _connected(self) -> Any:
        async with self._connecting:
            if self._ioctx is None:
                try:
                    self._cluster, self._ioctx = await asyncio.to_thread(self._connect)
                except Exception as exc:
                    raise HypervisorError(
                        f"cannot reach the RBD pool {self._config.pool}: {type(exc).__name__}"
                    ) from exc
            return self._ioctx

    def _connect(self) -> tuple[Any, Any]:
        import rados  # Debian's python3-rados, linked into the venv (decision 0008)

        config = self._config
        # librados ignores connect(timeout=…) and takes whole seconds: these bound every call
        # (decision 0008).
        op_timeout = str(max(1, math.ceil(config.op_timeout)))
        cluster = rados.Rados(
            conffile=str(config.conf_file),
            name=config.user,
            conf={
                "keyring": str(config.keyring),
                "client_mount_timeout": str(max(1, math.ceil(config.connect_timeout))),
                "rados_mon_op_timeout": op_timeout,
                "rados_osd_op_timeout": op_timeout,
            },
        )
        try:
            cluster.connect()
            ioctx = cluster.open_ioctx(config.pool)
            ioctx.set_namespace(config.namespace)
        except Exception:
            cluster.shutdown()
            raise
        return cluster, ioctx

    async def close(self) -> None:
        async with self._connecting:
            ioctx, cluster = self._ioctx, self._cluster
            self._ioctx = self._cluster = None
        if ioctx is not None:
            await asyncio.to_thread(ioctx.close)
        if cluster is not None:
            await asyncio.to_thread(cluster.shutdown)

    async def image_names(self) -> list[str]:
        """Every RBD image in the pool's namespace (tests and operators list what is left)."""
        import rbd

        return sorted(await self._call(lambda ioctx: rbd.RBD().list(ioctx)))

    # -- how QEMU and qemu-img name images ------------------------------------------------------

    def _rbd_file(self, image: str) -> dict[str, Any]:
        config = self._config
        options: dict[str, Any] = {
            "driver": "rbd",
            "pool": config.pool,
            "image": image,
            "conf": str(config.conf_file),
            "user": config.user_id,
            "key-secret": CEPHX_SECRET,
            "auth-client-required": ["cephx"],
        }
        if config.namespace:
            options["namespace"] = config.namespace
        return options

    def _qcow2(self, image: str, secret_id: str, parent: str | None) -> dict[str, Any]:
        return {
            "driver": "qcow2",
            "file": self._rbd_file(image),
            "encrypt": {"format": "luks", "key-secret": secret_id},
            # The header names its backing for people; QEMU is told exactly what to open.
            "backing": {"driver": "raw", "file": self._rbd_file(parent)} if parent else None,
        }

    def _legacy_filename(self, image: str) -> str:
        """``rbd:pool/[namespace/]image:id=…:conf=…:keyring=…``: the only way ``qemu-img
        create`` names an RBD image (it takes no ``--image-opts``)."""
        config = self._config
        location = self._location(image)
        options = {"id": config.user_id, "conf": config.conf_file, "keyring": config.keyring}
        return f"rbd:{location}" + "".join(
            f":{name}={_legacy_escape(str(value))}" for name, value in options.items()
        )

    def _location(self, image: str) -> str:
        return "/".join(p for p in (self._config.pool, self._config.namespace, image) if p)

    @staticmethod
    def _json(options: dict[str, Any]) -> str:
        return "json:" + json.dumps(options, separators=(",", ":"))

    def qmp_secrets(self) -> list[dict[str, Any]]:
        return [
            {"qom-type": "secret", "id": CEPHX_SECRET, "format": "base64",
             "data": self._cephx_key},
        ]  # fmt: skip

    async def node(self, node: str, volume_id: str, secret_id: str) -> dict[str, Any]:
        name = safe_id(volume_id)
        parent = name + _PARENT if await self._exists(name + _PARENT) else None
        options = self._qcow2(name, secret_id, parent)
        options["node-name"] = node
        if parent is None:
            del options["backing"]
        return options

    def snapshot_target_node(self, node: str, snapshot_id: str, secret_id: str) -> dict[str, Any]:
        options = self._qcow2(safe_id(snapshot_id) + _PARTIAL, secret_id, None)
        options["node-name"] = node
        del options["backing"]
        return options

    def storage_domain(self) -> str:
        return "rbd:" + self._location("")

    # -- volumes --------------------------------------------------------------------------------

    async def create(self, spec: VolumeSpec, image: Path | None = None) -> None:
        name = safe_id(spec.volume_id)
        if await self._exists(name):
            raise HypervisorError(f"volume {spec.volume_id} already exists in the RBD pool")
        partial = name + _PARTIAL
        # Leftovers of a creation that crashed half-way under this id.
        await self._remove_quietly(partial)
        await self._release_parent(name + _PARENT)
        size = spec.size_gib * GIB
        try:
            if isinstance(spec.backing, SnapshotBacking):
                await self._copy_snapshot(spec, spec.backing, partial, size)
            elif isinstance(spec.backing, ImageBacking):
                await self._overlay(spec, spec.backing, image, partial, size)
            else:
                await self._create_qcow2(partial, size, spec.key)
            await self._rename(partial, name)
        except BaseException:
            await self._remove_quietly(partial)
            await self._release_parent(name + _PARENT)
            raise

    async def _copy_snapshot(
        self, spec: VolumeSpec, backing: SnapshotBacking, partial: str, size: int
    ) -> None:
        snapshot = safe_id(backing.snapshot_id)
        if not await self._exists(snapshot):
            raise VolumeNotFound(f"snapshot {snapshot} of {spec.volume_id} not found")
        source_size = await self._virtual_size(snapshot, backing.key)
        # A volume may be bigger than its snapshot (EC2 allows it), never smaller.
        await self._create_qcow2(partial, max(size, source_size), spec.key)
        await self._convert(
            self._qcow2(snapshot, "source", None), partial, spec.key, source_key=backing.key
        )

    async def _overlay(
        self,
        spec: VolumeSpec,
        backing: ImageBacking,
        image: Path | None,
        partial: str,
        size: int,
    ) -> None:
        parent = safe_id(spec.volume_id) + _PARENT
        await self._clone_base(backing, image, parent)
        await self._create_qcow2(partial, size, spec.key, backing=parent)

    async def reads_from(self, image: Path) -> bool:
        """Volumes read their image from its base in the pool, never from the host's copy."""
        return False

    async def exists(self, volume_id: str) -> bool:
        return await self._exists(safe_id(volume_id))

    async def delete(self, volume_id: str) -> None:
        name = safe_id(volume_id)
        await self._remove(name)
        await self._remove_quietly(name + _PARTIAL)
        await self._release_parent(name + _PARENT)

    async def virtual_size(self, volume_id: str, key: bytes) -> int:
        return await self._virtual_size(safe_id(volume_id), key)

    async def grow(self, volume_id: str, key: bytes, size: int) -> None:
        """The qcow2 inside the RBD image grows (``qemu-img resize`` over librbd), not the RBD
        image: its size is the qcow2 container's, which QEMU's rbd driver extends as clusters
        are written. An ``rbd resize`` would leave the disk the guest sees as it was."""
        name = safe_id(volume_id)
        if not await self._exists(name):
            raise VolumeNotFound(f"volume {volume_id} not found in the RBD pool")
        if await self._virtual_size(name, key) >= size:
            return
        options = self._qcow2(name, "source", None)  # backing None: growing does not read it
        await self._img.run(
            ["resize", "-q", self._json(options), str(size)],
            {"source": key},
            raw_secrets={CEPHX_SECRET: self._cephx_key.encode()},
        )

    # -- snapshots ------------------------------------------------------------------------------

    async def copy_to_snapshot(
        self, volume_id: str, key: bytes, snapshot_id: str, snapshot_key: bytes
    ) -> None:
        name = safe_id(volume_id)
        if not await self._exists(name):
            raise VolumeNotFound(f"volume {volume_id} not found in the RBD pool")
        parent = name + _PARENT if await self._exists(name + _PARENT) else None
        size = await self._virtual_size(name, key)
        await self.new_snapshot_target(snapshot_id, size, snapshot_key)
        try:
            await self._convert(
                self._qcow2(name, "source", parent),
                safe_id(snapshot_id) + _PARTIAL,
                snapshot_key,
                source_key=key,
            )
            await self.commit_snapshot(snapshot_id)
        except BaseException:
            await self.abort_snapshot(snapshot_id)
            raise

    async def copy_snapshot(
        self, source_id: str, source_key: bytes, snapshot_id: str, snapshot_key: bytes
    ) -> None:
        """qemu-img reads the source's qcow2 through librbd with its key and writes a new one
        under the copy's key: RBD's own clone or copy would keep the source's LUKS header,
        so the copy would open with the source's key only."""
        source = safe_id(source_id)
        if not await self._exists(source):
            raise VolumeNotFound(f"snapshot {source_id} not found in the RBD pool")
        size = await self._virtual_size(source, source_key)
        await self.new_snapshot_target(snapshot_id, size, snapshot_key)
        try:
            await self._convert(
                self._qcow2(source, "source", None),
                safe_id(snapshot_id) + _PARTIAL,
                snapshot_key,
                source_key=source_key,
            )
            await self.commit_snapshot(snapshot_id)
        except BaseException:
            await self.abort_snapshot(snapshot_id)
            raise

    async def new_snapshot_target(self, snapshot_id: str, size: int, key: bytes) -> None:
        name = safe_id(snapshot_id)
        if await self._exists(name):
            raise HypervisorError(f"snapshot {snapshot_id} already exists in the RBD pool")
        await self._remove_quietly(name + _PARTIAL)
        await self._create_qcow2(name + _PARTIAL, size, key)

    async def commit_snapshot(self, snapshot_id: str) -> None:
        name = safe_id(snapshot_id)
        await self._rename(name + _PARTIAL, name)

    async def abort_snapshot(self, snapshot_id: str) -> None:
        await self._remove_quietly(safe_id(snapshot_id) + _PARTIAL)

    async def delete_snapshot(self, snapshot_id: str) -> None:
        name = safe_id(snapshot_id)
        await self._remove(name)
        await self._remove_quietly(name + _PARTIAL)

    # -- base images: imported once, shared by clones, removed with their last volume ----------

    @staticmethod
    def _base_name(backing: ImageBacking) -> str:
        """An image's bytes are named by their SHA-256 (checked when the host received them):
        every host that has the image finds the one base, whatever its own copy is called."""
        identity = f"{backing.sha256.lower()}\0{backing.disk_format}"
        return "base-" + hashlib.sha256(identity.encode()).hexdigest()[:32]

    async def _clone_base(self, backing: ImageBacking, image: Path | None, clone: str) -> None:
        base = self._base_name(backing)
        async with self._base_locks.setdefault(base, asyncio.Lock()):
            for _ in range(_BASE_ATTEMPTS):
                state = await self._call(lambda ioctx: _base_state(ioctx, base))
                if state is _BaseState.ABSENT:
                    if image is None or not image.is_file():
                        raise VolumeNotFound(f"image {backing.image_id} not on this host")
                    await self._import_base(image, backing.disk_format, base)
                elif state is _BaseState.UNPROTECTED:
                    # A release that stopped half-way, or one under way whose removal of the
                    # snapshot will now fail: either way the base is kept.
                    with contextlib.suppress(HypervisorError):
                        await self._call(lambda ioctx: _protect(ioctx, base))
                elif state is _BaseState.NO_SNAPSHOT:
                    # Only a release leaves a base without its snapshot: finish it.
                    await self._remove_quietly(base)
                else:
                    try:
                        await self._call(lambda ioctx: _clone(ioctx, base, clone))
                        return
                    except VolumeNotFound:
                        continue  # released meanwhile
                    except HypervisorError as exc:
                        logger.info("clone of %s: %s; looking again", base, exc)
                await asyncio.sleep(0.2)
        raise HypervisorError(f"the base image {base} could not be cloned (busy)")

    async def _import_base(self, path: Path, disk_format: str, base: str) -> None:
        size = path.stat().st_size
        if disk_format == "qcow2":
            info = await self._img.info(path, None)
            virtual = info.get("virtual-size")
            if not isinstance(virtual, int):
                raise HypervisorError(f"cannot size the image {path.name}")
            size = virtual
        size = -(-size // _SECTOR) * _SECTOR
        partial = f"{base}{_PARTIAL}-{secrets.token_hex(4)}"
        await self._call(lambda ioctx: _create_image(ioctx, partial, size))
        try:
            target = self._json({"driver": "raw", "file": self._rbd_file(partial)})
            await self._img.run(
                ["convert", "-q", "-n", "--target-is-zero", "-f", disk_format, str(path), target],
                {},
                raw_secrets={CEPHX_SECRET: self._cephx_key.encode()},
            )
            await self._call(lambda ioctx: _snapshot_and_protect(ioctx, partial))
            renamed = await self._call(lambda ioctx: _rename_if_free(ioctx, partial, base))
        except BaseException:
            with contextlib.suppress(HypervisorError):
                await self._call(lambda ioctx: _remove_base(ioctx, partial, force=True))
            raise
        if not renamed:  # another host imported it meanwhile
            await self._call(lambda ioctx: _remove_base(ioctx, partial, force=True))
        else:
            logger.info("image %s imported into RBD as %s (%d bytes)", path.name, base, size)

    async def _release_parent(self, clone: str) -> None:
        """Remove a volume's clone, then its base unless other clones still use it."""
        base = await self._call(lambda ioctx: _parent_of(ioctx, clone))
        if base is None:
            return
        await self._remove(clone)
        released = await self._call(lambda ioctx: _remove_base(ioctx, base, force=False))
        if released:
            logger.info("base image %s removed with its last volume", base)

    # -- qemu-img and librbd ------------------------------------------------------------------

    async def _create_qcow2(
        self, image: str, size: int, key: bytes, *, backing: str | None = None
    ) -> None:
        backing_name = None if backing is None else f"rbd:{self._location(backing)}"
        # The qcow2 made in memory around a LUKS header from cryptsetup (milliseconds, no PBKDF2
        # benchmark), written with librbd; without cryptsetup, qemu-img creates it.
        layout = await self._img.encrypted_qcow2(
            size, key, backing=backing_name, backing_format="raw"
        )
        if layout is not None:
            await self._call(lambda ioctx: _write_layout(ioctx, image, layout))
            return
        argv = ["create", "-q", "-f", "qcow2", "-o", self._img.encrypt_options("target")]
        if backing_name is not None:
            argv += ["-u", "-b", backing_name, "-F", "raw"]
        await self._img.run([*argv, self._legacy_filename(image), str(size)], {"target": key})

    async def _convert(
        self, source: dict[str, Any], target: str, target_key: bytes, *, source_key: bytes
    ) -> None:
        target_options = self._qcow2(target, "target", None)
        del target_options["backing"]
        argv = [
            "convert", "-q", "-n", "--target-is-zero", "-O", "qcow2",
            self._json(source), self._json(target_options),
        ]  # fmt: skip
        await self._img.run(
            argv,
            {"source": source_key, "target": target_key},
            raw_secrets={CEPHX_SECRET: self._cephx_key.encode()},
        )

    async def _virtual_size(self, image: str, key: bytes) -> int:
        options = self._qcow2(image, "source", None)  # backing None: not opened
        output = await self._img.run(
            ["info", "-U", "--output=json", self._json(options)],
            {"source": key},
            raw_secrets={CEPHX_SECRET: self._cephx_key.encode()},
        )
        size = json.loads(output).get("virtual-size")
        if not isinstance(size, int):
            raise HypervisorError(f"cannot size the RBD image {image}")
        return size

    async def _exists(self, image: str) -> bool:
        return await self._call(lambda ioctx: _image_exists(ioctx, image))

    async def _rename(self, source: str, target: str) -> None:
        import rbd

        await self._call(lambda ioctx: rbd.RBD().rename(ioctx, source, target))

    async def _remove(self, image: str) -> None:
        """Remove an image, waiting up to ``release_timeout`` for a dead opener's watch to
        expire; InstanceBusy when it is still open after that (a live QEMU somewhere)."""
        deadline = time.monotonic() + self._config.release_timeout
        while True:
            try:
                await self._call(lambda ioctx: _remove_image(ioctx, image))
                return
            except InstanceBusy:
                if time.monotonic() >= deadline:
                    raise
                await asyncio.sleep(1.0)

    async def _remove_quietly(self, image: str) -> None:
        with contextlib.suppress(HypervisorError):
            await self._remove(image)


# -- librbd, in threads -------------------------------------------------------------------------


def _image_exists(ioctx: Any, name: str) -> bool:
    import rbd

    try:
        with rbd.Image(ioctx, name, read_only=True):
            return True
    except rbd.ImageNotFound:
        return False


def _write_layout(ioctx: Any, name: str, layout: EncryptedQcow2Layout) -> None:
    """A new RBD image holding a qcow2 made in memory (its unwritten ranges read as zeros)."""
    import rbd

    rbd.RBD().create(ioctx, name, layout.length)
    with rbd.Image(ioctx, name) as image:
        for offset, piece in layout.pieces:
            image.write(piece, offset)
        image.flush()


def _create_image(ioctx: Any, name: str, size: int) -> None:
    import rbd

    rbd.RBD().create(ioctx, name, size)


def _remove_image(ioctx: Any, name: str) -> None:
    """Remove an image; absent is fine, open elsewhere (a QEMU on another host) is not."""
    import rbd

    try:
        rbd.RBD().remove(ioctx, name)
    except rbd.ImageNotFound:
        return
    except rbd.ImageBusy:
        raise InstanceBusy(f"RBD image {name} is open elsewhere") from None


def _base_state(ioctx: Any, base: str) -> _BaseState:
    import rbd

    try:
        with rbd.Image(ioctx, base, read_only=True) as image:
            if not any(s["name"] == BASE_SNAPSHOT for s in image.list_snaps()):
                return _BaseState.NO_SNAPSHOT
            if image.is_protected_snap(BASE_SNAPSHOT):
                return _BaseState.READY
            return _BaseState.UNPROTECTED
    except rbd.ImageNotFound:
        return _BaseState.ABSENT


def _protect(ioctx: Any, base: str) -> None:
    import rbd

    with rbd.Image(ioctx, base) as image:
        image.protect_snap(BASE_SNAPSHOT)


def _snapshot_and_protect(ioctx: Any, name: str) -> None:
    import rbd

    with rbd.Image(ioctx, name) as image:
        image.create_snap(BASE_SNAPSHOT)
        image.protect_snap(BASE_SNAPSHOT)


def _clone(ioctx: Any, base: str, clone: str) -> None:
    import rbd

    try:
        rbd.RBD().clone(ioctx, base, BASE_SNAPSHOT, ioctx, clone)
    except rbd.ImageNotFound:
        raise VolumeNotFound(f"base image {base} is gone") from None


def _rename_if_free(ioctx: Any, source: str, target: str) -> bool:
    import rbd

    try:
        rbd.RBD().rename(ioctx, source, target)
    except rbd.ImageExists:
        return False
    return True


def _parent_of(ioctx: Any, clone: str) -> str | None:
    """The base a volume's clone was made from; None when there is no clone."""
    import rbd

    try:
        with rbd.Image(ioctx, clone, read_only=True) as image:
            try:
                spec = image.get_parent_image_spec()
            except rbd.ImageNotFound:  # a clone whose parent is gone: remove the clone only
                return ""
            name: str = spec["image_name"]
            return name
    except rbd.ImageNotFound:
        return None


def _remove_base(ioctx: Any, base: str, *, force: bool) -> bool:
    """Unprotect, remove the snapshot, remove the image. Without ``force`` nothing happens while
    any clone uses the base: librbd refuses to unprotect a snapshot that has children, atomically
    with respect to a clone being made (which needs the protection). True when removed."""
    import rbd

    if not base:
        return False
    try:
        with rbd.Image(ioctx, base) as image:
            snapshots = [s["name"] for s in image.list_snaps()]
            if BASE_SNAPSHOT in snapshots:
                if image.is_protected_snap(BASE_SNAPSHOT):
                    image.unprotect_snap(BASE_SNAPSHOT)
                image.remove_snap(BASE_SNAPSHOT)
    except rbd.ImageNotFound:
        return False
    except (rbd.ImageBusy, rbd.InvalidArgument):
        if force:
            raise
        return False  # clones remain, or another host is protecting it again
    try:
        rbd.RBD().remove(ioctx, base)
    except (rbd.ImageNotFound, rbd.ImageBusy, rbd.ImageHasSnapshots):
        return False
    return True


def _translate(exc: Exception) -> HypervisorError:
    """librados/librbd errors name images and error codes, never keys."""
    import rbd

    if isinstance(exc, rbd.ImageNotFound):
        return VolumeNotFound(f"RBD image not found: {exc}")
    if isinstance(exc, rbd.ImageBusy):
        return InstanceBusy(f"RBD image busy: {exc}")
    return HypervisorError(f"RBD operation failed: {type(exc).__name__}: {exc}")


def _legacy_escape(value: str) -> str:
    """Option values of a legacy ``rbd:`` filename: ``:``, ``@`` and ``\\`` are escaped."""
    return re.sub(r"([:@\\])", r"\\\1", value)
