"""Encrypted disk files through ``qemu-img``: volumes (qcow2 + LUKS), copies, and LUKS seeds.

A key never appears on a command line (anyone reads ``/proc/*/cmdline``) nor in a file: each is
written into a pipe whose read end the child inherits, named as ``--object secret,file=/dev/fd/N``.
A plaintext input that must be a seekable file (the seed ISO) lives in an anonymous memory file
(``memfd``), gone when closed, never on a persistent disk.

LUKS normally stretches its passphrase with PBKDF2 for ``iter-time`` ms (2 s by default) on every
create and every open. The keys here are random 256-bit data keys from KMS, not passwords: there is
nothing to stretch. So LUKS headers are made by cryptsetup with LUKS1's minimum count, 1000
iterations, in milliseconds; qemu-img would first spend about 2 s of CPU measuring PBKDF2
whatever it is asked (see :mod:`andromede.hypervisor.qcow2`). A volume is that header in a qcow2
container written directly, a seed that header before its payload; QEMU opens both with its own
LUKS code. Without cryptsetup qemu-img formats them, with a short ``iter_time_ms`` (a setting).
QEMU wants a passphrase that is UTF-8 text: a key is passed as its hex form.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import Iterator, Mapping
from pathlib import Path

from andromede.hypervisor.errors import HypervisorError
from andromede.hypervisor.qcow2 import EncryptedQcow2Layout, encrypted_qcow2_layout

__all__ = ["QemuImg", "luks_passphrase", "option_path"]

MIB = 1024 * 1024
# cryptsetup formats a device of this size, in memory: a LUKS1 header with a 512-bit key and its
# eight key slots end before 2 MiB.
_LUKS1_HEADER_ROOM = 4 * MIB
# LUKS1's minimum PBKDF2 count (cryptsetup refuses less): the keys are random data keys.
_LUKS1_MIN_ITERATIONS = 1000
_LUKS1_PAYLOAD_OFFSET = slice(104, 108)  # in 512-byte sectors, big-endian, after the names
_SECTOR = 512
# LUKS formatting times a first round of PBKDF2 with the thread's CPU clock, which the kernel may
# sample by ticks: a short round can read as 0 ms and QEMU gives up with this message. SHA-512
# makes the round long enough to be seen almost always (SHA-256 failed 1 time in 4 here), and a
# failed round is simply tried again.
_FLAKY_BENCHMARK = "Unable to get accurate CPU usage"
_ATTEMPTS = 5
_LUKS_HASH = "sha512"


def luks_passphrase(key: bytes) -> bytes:
    """The LUKS passphrase for a key: QEMU reads a passphrase as UTF-8 text, and a data key is
    arbitrary bytes, so both qemu-img and QMP get its hex form."""
    return key.hex().encode()


class QemuImg:
    """``qemu-img`` with keys passed through pipes."""

    def __init__(
        self,
        binary: str,
        *,
        iter_time_ms: int,
        timeout: float,
        cryptsetup_binary: str | None = None,
    ) -> None:
        self._binary = binary
        self._iter_time_ms = iter_time_ms
        self._timeout = timeout
        self._cryptsetup = cryptsetup_binary

    async def create_encrypted(
        self,
        target: Path,
        size_bytes: int,
        key: bytes,
        *,
        backing: Path | None = None,
        backing_format: str = "qcow2",
    ) -> None:
        """A qcow2 whose clusters are LUKS-encrypted, optionally an overlay over ``backing``
        (a plaintext image: an encrypted backing would need its key at every open)."""
        layout = await self.encrypted_qcow2(
            size_bytes,
            key,
            backing=None if backing is None else str(backing),
            backing_format=backing_format,
        )
        if layout is not None:
            with open(target, "wb") as file:
                file.truncate(layout.length)  # sparse: the L1 table and the padding are zeros
                for offset, piece in layout.pieces:
                    os.pwrite(file.fileno(), piece, offset)
            return
        options = self._encrypt_options("encrypt.", "target")
        argv = ["create", "-q", "-f", "qcow2", "-o", options]
        if backing is not None:
            # -u: the size is given, so the backing file need not be opened now.
            argv += ["-u", "-b", str(backing), "-F", backing_format]
        await self._run([*argv, str(target), str(size_bytes)], {"target": key})

    async def encrypted_qcow2(
        self, size_bytes: int, key: bytes, *, backing: str | None, backing_format: str = "qcow2"
    ) -> EncryptedQcow2Layout | None:
        """What to write, where, for a new empty LUKS qcow2 under ``key`` (a fresh LUKS header
        from cryptsetup), for a caller that writes it its own way (a file, an RBD image); None
        without cryptsetup: then only qemu-img makes one."""
        if self._cryptsetup is None:
            return None
        header = await self._luks_header(self._cryptsetup, key)
        try:
            return encrypted_qcow2_layout(
                size_bytes, header, backing=backing, backing_format=backing_format
            )
        except ValueError as exc:  # a size or backing name QEMU would refuse too
            raise HypervisorError(f"cannot make this qcow2 volume: {exc}") from None

    async def copy_encrypted(
        self, source: Path, source_key: bytes | None, target: Path, target_key: bytes
    ) -> None:
        """A self-contained encrypted qcow2 copy of ``source`` (its backing chain flattened).
        ``source_key`` opens an encrypted qcow2 source; None reads a plaintext qcow2."""
        keys = {"target": target_key}
        source_options = f"driver=qcow2,file.filename={option_path(source)}"
        if source_key is not None:
            keys["source"] = source_key
            source_options += ",encrypt.key-secret=source"
        if self._cryptsetup is None:
            argv = [
                "convert", "-q", "-U", "--image-opts", source_options,
                "-O", "qcow2", "-o", self._encrypt_options("encrypt.", "target"), str(target),
            ]  # fmt: skip
            await self._run(argv, keys)
            return
        # An empty volume of the source's size made fast, then filled: qemu-img convert -n
        # writes into it without formatting (-n) and skips what is zero (--target-is-zero).
        size = (await self.info(source, source_key)).get("virtual-size")
        if not isinstance(size, int):
            raise HypervisorError(f"qemu-img info {source.name}: no virtual size")
        await self.create_encrypted(target, size, target_key)
        argv = [
            "convert", "-q", "-U", "-n", "--target-is-zero", "--image-opts", source_options,
            "--target-image-opts",
            f"driver=qcow2,file.filename={option_path(target)},encrypt.key-secret=target",
        ]  # fmt: skip
        await self._run(argv, keys)

    async def grow(self, image: Path, key: bytes, size_bytes: int) -> None:
        """Grow an encrypted qcow2 to ``size_bytes`` (never shrinks: that would cut data)."""
        info = await self.info(image, key)
        current = info.get("virtual-size")
        if not isinstance(current, int) or current >= size_bytes:
            return
        options = f"driver=qcow2,file.filename={option_path(image)},encrypt.key-secret=source"
        await self._run(["resize", "-q", "--image-opts", options, str(size_bytes)], {"source": key})

    async def write_luks(self, plaintext: bytes, target: Path, key: bytes) -> None:
        """A raw LUKS image holding ``plaintext`` (QEMU's ``luks`` block driver opens it).

        An existing container big enough for the content is rewritten in place (opening LUKS
        costs milliseconds); a new one is sized in whole MiB and formatted by cryptsetup when
        it is installed (see :meth:`_format_luks`)."""
        if target.exists() and await self._luks_size(target) >= len(plaintext):
            try:
                await self._write_into_luks(plaintext, target, key)
                return
            except HypervisorError:
                pass  # made with another key, or torn: formatted anew below
        target.unlink(missing_ok=True)
        container = -(-max(len(plaintext), 1) // MIB) * MIB
        await self._format_luks(target, container, key)
        await self._write_into_luks(plaintext, target, key)

    async def _write_into_luks(self, plaintext: bytes, target: Path, key: bytes) -> None:
        memory = os.memfd_create("andromede-plaintext")
        try:
            os.write(memory, plaintext)
            argv = [
                "convert", "-q", "-n", "-f", "raw", f"/dev/fd/{memory}", "--target-image-opts",
                f"driver=luks,file.filename={option_path(target)},key-secret=target",
            ]  # fmt: skip
            await self._run(argv, {"target": key}, extra_fds=(memory,))
        finally:
            os.close(memory)

    async def _format_luks(self, target: Path, size: int, key: bytes) -> None:
        """A new raw LUKS1 container of at least ``size`` payload bytes (QEMU's ``luks``
        driver): the header, then the payload, sparse until written."""
        if self._cryptsetup is None:
            options = self._encrypt_options("", "target")
            await self._run(
                ["create", "-q", "-f", "luks", "-o", options, str(target), str(size)],
                {"target": key},
            )
            return
        header = await self._luks_header(self._cryptsetup, key)
        with open(target, "wb") as file:
            file.truncate(len(header) + size)
            os.pwrite(file.fileno(), header, 0)

    async def _luks_header(self, cryptsetup: str, key: bytes) -> bytes:
        """A new LUKS1 header for ``key`` and its key material, up to the payload: what a raw
        LUKS device starts with, and what a LUKS qcow2 keeps in its crypto-header clusters.

        cryptsetup formats an anonymous memory file, with a fresh random master key, a fixed
        PBKDF2 count (no benchmark) and the layout qemu-img makes (LUKS1, aes-xts-plain64 with
        a 512-bit key, key slots packed on 4 KiB: ``--align-payload 8``), and reads the
        passphrase from its stdin."""
        device = os.memfd_create("andromede-luks-header")
        try:
            os.ftruncate(device, _LUKS1_HEADER_ROOM)
            process = await asyncio.create_subprocess_exec(
                cryptsetup, "luksFormat", "--batch-mode", "--type", "luks1",
                "--pbkdf-force-iterations", str(_LUKS1_MIN_ITERATIONS), "--hash", "sha256",
                "--cipher", "aes-xts-plain64", "--key-size", "512", "--align-payload", "8",
                "--key-file", "-", f"/dev/fd/{device}",
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
                pass_fds=(device,),
            )  # fmt: skip
            try:
                _, stderr = await asyncio.wait_for(
                    process.communicate(luks_passphrase(key)), self._timeout
                )
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()
                raise HypervisorError("cryptsetup luksFormat timed out") from None
            if process.returncode != 0:
                message = stderr.decode(errors="replace").strip()[-400:]
                raise HypervisorError(f"cryptsetup luksFormat failed: {message}")
            start = os.pread(device, _SECTOR, 0)
            length = int.from_bytes(start[_LUKS1_PAYLOAD_OFFSET], "big") * _SECTOR
            if not 0 < length <= _LUKS1_HEADER_ROOM:
                raise HypervisorError("cryptsetup luksFormat wrote an unexpected header")
            return os.pread(device, length, 0)
        finally:
            os.close(device)

    async def _luks_size(self, image: Path) -> int:
        """The payload size from the header (``info`` does not check the key)."""
        try:
            info = await self.info(image, b"", driver="luks")
        except HypervisorError:
            return 0
        size = info.get("virtual-size")
        return size if isinstance(size, int) else 0

    async def info(
        self, image: Path, key: bytes | None = None, *, driver: str = "qcow2"
    ) -> dict[str, object]:
        """``qemu-img info`` as JSON (virtual size, format, encryption)."""
        options = f"driver={driver},file.filename={option_path(image)}"
        keys: dict[str, bytes] = {}
        if key is not None:
            keys["source"] = key
            options += ",key-secret=source" if driver == "luks" else ",encrypt.key-secret=source"
        output = await self._run(["info", "-U", "--output=json", "--image-opts", options], keys)
        parsed = json.loads(output)
        if not isinstance(parsed, dict):
            raise HypervisorError(f"qemu-img info {image.name}: unexpected output")
        return parsed

    def _encrypt_options(self, prefix: str, secret_id: str) -> str:
        luks = "format=luks," if prefix else ""
        return (
            f"{prefix}{luks}{prefix}key-secret={secret_id},{prefix}iter-time={self._iter_time_ms},"
            f"{prefix}hash-alg={_LUKS_HASH}"
        )

    async def run(
        self,
        argv: list[str],
        keys: Mapping[str, bytes],
        *,
        raw_secrets: Mapping[str, bytes] | None = None,
    ) -> str:
        """``qemu-img ARGV`` with each data key of ``keys`` as a LUKS passphrase secret and each
        of ``raw_secrets`` (a Ceph key, already base64 text) as a ``format=base64`` secret,
        all through pipes; its standard output. For callers that name images their own way
        (``json:`` descriptions of RBD images)."""
        return await self._run(argv, keys, raw_secrets=raw_secrets or {})

    def encrypt_options(self, secret_id: str) -> str:
        """``-o`` options that make a new qcow2 LUKS-encrypted with the secret ``secret_id``."""
        return self._encrypt_options("encrypt.", secret_id)

    async def _run(
        self,
        argv: list[str],
        keys: Mapping[str, bytes],
        extra_fds: tuple[int, ...] = (),
        *,
        raw_secrets: Mapping[str, bytes] | None = None,
    ) -> str:
        for attempt in range(_ATTEMPTS):
            returncode, stdout, stderr = await self._run_once(
                argv, keys, extra_fds, raw_secrets or {}
            )
            if returncode == 0:
                return stdout.decode()
            # qemu-img's messages name files and options, never the secret's bytes.
            message = stderr.decode(errors="replace").strip()[-400:]
            if _FLAKY_BENCHMARK not in message or attempt == _ATTEMPTS - 1:
                raise HypervisorError(f"qemu-img {argv[0]} failed: {message}")
        raise AssertionError("unreachable")  # pragma: no cover

    async def _run_once(
        self,
        argv: list[str],
        keys: Mapping[str, bytes],
        extra_fds: tuple[int, ...],
        raw_secrets: Mapping[str, bytes],
    ) -> tuple[int | None, bytes, bytes]:
        with _secret_pipes(keys, raw_secrets) as (objects, fds):
            command = [self._binary, argv[0], *objects, *argv[1:]]
            process = await asyncio.create_subprocess_exec(
                *command,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                pass_fds=(*fds, *extra_fds),
            )
            # The child holds its own copies of the read ends now.
            for fd in fds:
                os.close(fd)
            fds.clear()
        try:
            stdout, stderr = await asyncio.wait_for(process.communicate(), self._timeout)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
            raise HypervisorError(f"qemu-img {argv[0]} timed out") from None
        return process.returncode, stdout, stderr


@contextlib.contextmanager
def _secret_pipes(
    keys: Mapping[str, bytes], raw_secrets: Mapping[str, bytes] | None = None
) -> Iterator[tuple[list[str], list[int]]]:
    """One pipe per key, the key already written and the write end closed; yields the
    ``--object`` arguments and the read ends (closed on exit unless the caller did).
    ``keys`` are data keys, passed as LUKS passphrases; ``raw_secrets`` are base64 text
    that QEMU decodes (a cephx key: QEMU's rbd driver hands it to librados base64-encoded)."""
    objects: list[str] = []
    fds: list[int] = []
    secrets = [(i, luks_passphrase(k), "raw") for i, k in keys.items()]
    secrets += [(i, value, "base64") for i, value in (raw_secrets or {}).items()]
    try:
        for secret_id, content, encoding in secrets:
            read_end, write_end = os.pipe()
            fds.append(read_end)
            try:
                # A key is far below the pipe buffer (64 KiB): this write never blocks.
                os.write(write_end, content)
            finally:
                os.close(write_end)
            objects += [
                "--object", f"secret,id={secret_id},file=/dev/fd/{read_end},format={encoding}"
            ]  # fmt: skip
        yield objects, fds
    finally:
        for fd in fds:
            os.close(fd)


def option_path(path: Path) -> str:
    """A path inside a QEMU option string: commas are doubled."""
    return str(path).replace(",", ",,")
