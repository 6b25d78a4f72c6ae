"""The chunked AES-256-GCM format of encrypted blobs: header, chunks, sizes and ranges.

One encrypted blob (an object, or one part of a multipart upload) is::

    header  = version (1 byte) | chunk size (4 bytes, big-endian) | salt (32 bytes)
    chunk i = AES-256-GCM(chunk key, nonce_i, plaintext chunk i, aad_i) | tag (16 bytes)

Every plaintext chunk holds ``chunk_size`` bytes except the last, which holds 1 to
``chunk_size`` bytes; an empty object is one empty final chunk, so that cutting a blob down to
its header is detected like any other truncation.

Keys and nonces. Every blob has a chunk key of its own, so the nonce can be deterministic::

    nonce_i = chunk index (8 bytes, big-endian) | final flag (1 byte) | 3 zero bytes

GCM's one hard rule is "never the same (key, nonce) twice": within a blob the index makes
nonces distinct; across blobs the keys differ. The version byte says how the chunk key is had:

- **Format 2, fresh key** (``FORMAT_FRESH_KEY``, what the object path writes): the blob's data
  key was drawn for this blob alone and is never used for another (the object path draws one
  per object and per part, decision 0032), so it *is* the chunk key; the salt field is reserved
  and zero. No derivation, one key schedule shared with the sealed headers: a small object's
  PUT and first GET skip an HKDF and a key schedule each.
- **Format 1, salted** (``FORMAT_SALTED``, still read; written for callers that may use one data
  key for several blobs): the chunk key is ``HKDF-SHA256(data key, salt, info)`` with a fresh
  random 32-byte salt per blob, so reusing a data key never reuses a (chunk key, nonce) pair
  (two blobs share a chunk key only if two random 256-bit salts collide).

Anything else sealed under a fresh blob key (its object's sealed headers, under SSE-S3) uses a
random nonce whose last byte is never zero (``storage.encryption``), so it can never take a
chunk's nonce.

Binding. ``aad_i = version | chunk size | len(object id) | object id | chunk index | final
flag``, and the index and flag are in the nonce too. A decryptor is told the object id and
which chunk indices to expect and which one must be the final one (from the plaintext size the
metadata records), so a chunk moved to another position, copied from another object, dropped,
a final chunk dropped or cut, bytes appended, or a changed version byte, chunk size or salt
all fail authentication or the length checks: :class:`IntegrityError`, never wrong bytes.
(Changing the version changes the chunk key too: a relabelled blob cannot authenticate.)

Memory and copies. The encryptor holds at most one plaintext chunk (the last full chunk is
held back until more data or ``finish()`` says whether it is final); chunks that arrive whole
inside a piece are encrypted straight from the caller's buffer with ``encrypt_into`` into one
output buffer per call. The decryptor does the same with ``decrypt_into``.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple, Self

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from andromede.kms.errors import IntegrityError, UnsupportedFormatVersion

if TYPE_CHECKING:
    # collections.abc.Buffer is Python 3.12+; the project supports 3.11.
    from typing_extensions import Buffer

__all__ = [
    "CHUNK_SIZE",
    "FORMAT_FRESH_KEY",
    "FORMAT_SALTED",
    "HEADER_SIZE",
    "NO_SALT",
    "TAG_SIZE",
    "ChunkDecryptor",
    "ChunkEncryptor",
    "ChunkKeyDerivation",
    "ChunkRange",
    "blob_salt",
    "chunk_count",
    "ciphertext_size",
    "decrypt_blob",
    "derive_chunk_key",
    "encrypt_blob",
    "format_of_salt",
    "fresh_blob_header",
    "open_single_chunk",
    "plaintext_size",
    "plan_range",
    "seal_single_chunk",
]

FORMAT_SALTED = 1
FORMAT_FRESH_KEY = 2
NO_SALT = b""
"""What :func:`blob_salt` gives for a format-2 blob: no salt, the data key is the chunk key."""
CHUNK_SIZE = 64 * 1024
TAG_SIZE = 16
SALT_SIZE = 32
DATA_KEY_SIZE = 32
_HEADER = struct.Struct(">BI")
HEADER_SIZE = _HEADER.size + SALT_SIZE
_CHUNK_POSITION = struct.Struct(">QB")
_AAD_PREFIX = struct.Struct(">BII")  # the header's version and chunk size, the id's length
_NO_POSITION = bytes(_CHUNK_POSITION.size)
_RESERVED_SALT = bytes(SALT_SIZE)  # format 2's salt field
_NONCE_PADDING = 3
_NONCE_PAD = bytes(_NONCE_PADDING)
# A one-chunk blob's only chunk: index 0, final. Its position and nonce, made once.
_ONLY_POSITION = _CHUNK_POSITION.pack(0, True)
_ONLY_NONCE = _ONLY_POSITION + _NONCE_PAD
_KDF_INFO = b"andromede/kms chunk key v1"
_MAX_CHUNK_SIZE = 2**31


def chunk_count(plaintext_size: int, chunk_size: int = CHUNK_SIZE) -> int:
    """How many chunks a blob of ``plaintext_size`` bytes has (at least one)."""
    _check_chunk_size(chunk_size)
    if plaintext_size < 0:
        raise ValueError("plaintext size must be >= 0")
    return max(1, -(-plaintext_size // chunk_size))


def ciphertext_size(plaintext_size: int, chunk_size: int = CHUNK_SIZE) -> int:
    """Stored size of a blob holding ``plaintext_size`` bytes: header plus one tag per chunk."""
    return HEADER_SIZE + plaintext_size + TAG_SIZE * chunk_count(plaintext_size, chunk_size)


def plaintext_size(stored_size: int, chunk_size: int = CHUNK_SIZE) -> int:
    """Inverse of :func:`ciphertext_size`; a size no blob can have is an :class:`IntegrityError`."""
    _check_chunk_size(chunk_size)
    body = stored_size - HEADER_SIZE
    if body < TAG_SIZE:
        raise IntegrityError("encrypted blob is shorter than a header and one chunk")
    chunks = -(-body // (chunk_size + TAG_SIZE))
    size = body - TAG_SIZE * chunks
    # A last chunk holding only a tag is possible only for the empty object: a blob whose size
    # ends that way (or leaves a negative size) was cut or padded.
    if size < 0 or (chunks > 1 and size <= (chunks - 1) * chunk_size):
        raise IntegrityError("encrypted blob size does not match any plaintext size")
    return size


class ChunkRange(NamedTuple):
    """What to read from a blob for a plaintext range, and what to keep after decryption.

    Read ``[0, HEADER_SIZE)`` (the header) and ``[ciphertext_start, ciphertext_end)`` (whole
    chunks ``first_chunk`` to ``last_chunk``); after decryption drop ``skip`` bytes and keep
    ``length``. ``last_chunk_is_final`` says whether the range reaches the object's end.
    A named tuple, not a frozen dataclass: one is planned per GET, and a frozen dataclass of
    eight fields costs microseconds to build.
    """

    plaintext_size: int
    chunk_size: int
    first_chunk: int
    last_chunk: int
    ciphertext_start: int
    ciphertext_end: int
    skip: int
    length: int

    @property
    def last_chunk_is_final(self) -> bool:
        return self.last_chunk == chunk_count(self.plaintext_size, self.chunk_size) - 1


def plan_range(
    plaintext_size: int, start: int, stop: int, chunk_size: int = CHUNK_SIZE
) -> ChunkRange:
    """Map the plaintext bytes ``[start, stop)`` to the whole chunks that hold them.

    ``start == stop`` is accepted only as ``(0, 0)`` of an empty object, whose single final
    chunk still has to be read and verified; any other empty or out-of-bounds range is a
    caller error (the storage layer answers InvalidRange before it gets here).
    """
    if not 0 < chunk_size <= _MAX_CHUNK_SIZE:
        raise ValueError("chunk size must be between 1 byte and 2 GiB")
    n_chunks = max(1, -(-plaintext_size // chunk_size))  # chunk_count, inline: once per GET
    if plaintext_size == 0 and start == stop == 0:
        first = last = 0
    elif 0 <= start < stop <= plaintext_size:
        first, last = start // chunk_size, (stop - 1) // chunk_size
    else:
        raise ValueError(f"range [{start}, {stop}) outside a {plaintext_size}-byte object")
    stride = chunk_size + TAG_SIZE
    last_plain = plaintext_size - last * chunk_size if last == n_chunks - 1 else chunk_size
    return ChunkRange(  # positional: a named tuple built from keywords costs twice as much
        plaintext_size,
        chunk_size,
        first,
        last,
        HEADER_SIZE + first * stride,  # ciphertext_start
        HEADER_SIZE + last * stride + last_plain + TAG_SIZE,  # ciphertext_end
        start - first * chunk_size,  # skip
        stop - start,  # length
    )


ChunkKeyDerivation = Callable[["Buffer", bytes], AESGCM]
"""(data key, salt) -> the blob's chunk key as an AES-GCM object: :func:`derive_chunk_key`, or
a cache in front of it (the key service keeps one, so a hot object is not derived per read)."""


def derive_chunk_key(data_key: Buffer, salt: bytes) -> AESGCM:
    """The chunk key of the blob with this salt (:func:`blob_salt`): the data key itself for
    format 2 (``NO_SALT``), ``HKDF-SHA256(data key, salt, info)`` for format 1."""
    if len(memoryview(data_key)) != DATA_KEY_SIZE:
        raise ValueError("a data key is 32 bytes (AES-256)")
    if not salt:
        return AESGCM(bytes(data_key))
    return AESGCM(HKDF(hashes.SHA256(), DATA_KEY_SIZE, salt, _KDF_INFO).derive(bytes(data_key)))


def format_of_salt(salt: bytes) -> int:
    """The format version of the blob whose :func:`blob_salt` this is (its AAD names it)."""
    return FORMAT_SALTED if salt else FORMAT_FRESH_KEY


def fresh_blob_header(chunk_size: int = CHUNK_SIZE) -> bytes:
    """The header of every format-2 blob of ``chunk_size`` (:func:`blob_salt` gives NO_SALT)."""
    return _header(NO_SALT, chunk_size)


def _header(salt: bytes, chunk_size: int) -> bytes:
    if salt:
        return _HEADER.pack(FORMAT_SALTED, chunk_size) + salt
    return _HEADER.pack(FORMAT_FRESH_KEY, chunk_size) + _RESERVED_SALT


class _ChunkCipher:
    """The per-blob chunk key, and the nonce and AAD of each chunk position."""

    __slots__ = ("_aad", "_aead", "_nonce", "_position_offset")

    def __init__(self, aead: AESGCM, object_id: bytes, chunk_size: int, version: int) -> None:
        self._aead = aead
        # One mutable AAD and nonce per blob, patched in place per chunk (no allocation).
        self._aad = bytearray(
            _AAD_PREFIX.pack(version, chunk_size, len(object_id)) + object_id + _NO_POSITION
        )
        self._position_offset = len(self._aad) - _CHUNK_POSITION.size
        self._nonce = bytearray(_CHUNK_POSITION.size + _NONCE_PADDING)

    def _position(self, index: int, final: bool) -> None:
        _CHUNK_POSITION.pack_into(self._aad, self._position_offset, index, final)
        _CHUNK_POSITION.pack_into(self._nonce, 0, index, final)

    def seal_into(
        self, index: int, final: bool, plaintext: bytearray | memoryview, out: memoryview
    ) -> None:
        self._position(index, final)
        self._aead.encrypt_into(self._nonce, plaintext, self._aad, out)

    def open_into(
        self, index: int, final: bool, ciphertext: memoryview, out: memoryview | bytearray
    ) -> None:
        self._position(index, final)
        try:
            self._aead.decrypt_into(self._nonce, ciphertext, self._aad, out)
        except InvalidTag:
            raise IntegrityError(f"chunk {index} failed authentication") from None


def blob_salt(header: bytes | bytearray | memoryview, chunk_size: int) -> bytes:
    """The salt in an encrypted blob's header, which names its chunk key (``NO_SALT`` for
    format 2: the data key itself; :func:`format_of_salt` tells the format back); the header
    must be of a format this code reads and name ``chunk_size`` (``IntegrityError``
    otherwise, or ``UnsupportedFormatVersion``). ``header``: bytes, or a view of them."""
    if len(header) != HEADER_SIZE:
        raise IntegrityError("encrypted blob header is truncated")
    version, stored_chunk_size = _HEADER.unpack_from(header)
    if version == FORMAT_FRESH_KEY:
        salt = NO_SALT
        if header[_HEADER.size :] != _RESERVED_SALT:
            raise IntegrityError("encrypted blob header has a salt its format does not use")
    elif version == FORMAT_SALTED:
        salt = bytes(header[_HEADER.size :])
    else:
        raise UnsupportedFormatVersion(f"unsupported encrypted blob format version {version}")
    if stored_chunk_size != chunk_size:
        raise IntegrityError("encrypted blob header names another chunk size")
    return salt


def _object_id_bytes(object_id: bytes | str) -> bytes:
    return object_id.encode() if isinstance(object_id, str) else bytes(object_id)


def _check_chunk_size(chunk_size: int) -> None:
    if not 0 < chunk_size <= _MAX_CHUNK_SIZE:
        raise ValueError("chunk size must be between 1 byte and 2 GiB")


class ChunkEncryptor:
    """Streaming encryption of one blob: ``update()`` with pieces of any size, then ``finish()``.

    Each call returns the ciphertext that is ready (possibly empty); the header comes first.
    ``fresh_key``: the data key is this blob's alone, never used for another (format 2, the
    key itself seals the chunks); otherwise a salted chunk key is derived (format 1).
    """

    __slots__ = (
        "_chunk_size",
        "_cipher",
        "_finished",
        "_header",
        "_held",
        "_index",
        "_pending",
        "_pending_len",
        "_size",
    )

    def __init__(
        self,
        data_key: Buffer,
        object_id: bytes | str,
        *,
        chunk_size: int = CHUNK_SIZE,
        chunk_key: ChunkKeyDerivation = derive_chunk_key,
        fresh_key: bool = False,
    ) -> None:
        _check_chunk_size(chunk_size)
        salt = NO_SALT if fresh_key else os.urandom(SALT_SIZE)
        self._start(chunk_key(data_key, salt), object_id, chunk_size, salt)

    @classmethod
    def with_fresh_key(cls, aead: AESGCM, object_id: bytes | str, chunk_size: int) -> Self:
        """The encryptor of a blob whose data key is its own (format 2), given as the key's
        AES-GCM object (made with the key, for its headers too)."""
        _check_chunk_size(chunk_size)
        encryptor = cls.__new__(cls)
        encryptor._start(aead, object_id, chunk_size, NO_SALT)
        return encryptor

    def _start(self, aead: AESGCM, object_id: bytes | str, chunk_size: int, salt: bytes) -> None:
        self._cipher = _ChunkCipher(
            aead, _object_id_bytes(object_id), chunk_size, format_of_salt(salt)
        )
        self._chunk_size = chunk_size
        self._header: bytes | None = _header(salt, chunk_size)
        # Allocated on first use: a small object handed over as bytes never needs it.
        self._pending = bytearray()
        self._pending_len = 0
        self._held: memoryview | None = None
        self._index = 0
        self._size = 0
        self._finished = False

    @property
    def plaintext_size(self) -> int:
        """Plaintext bytes fed so far."""
        return self._size

    def update(self, data: Buffer) -> bytearray:
        if self._finished:
            raise RuntimeError("update() after finish()")
        view = memoryview(data).cast("B")
        if not view:
            return self._start_output(0)
        self._size += len(view)
        size, stride = self._chunk_size, self._chunk_size + TAG_SIZE
        held, self._held = self._held, None
        if held is not None and len(held) < size:
            # A held partial chunk must be joined with the new bytes: now it is copied.
            self._pending_buffer()[: len(held)] = held
            self._pending_len, held = len(held), None
        total = (len(held) if held is not None else self._pending_len) + len(view)
        # Every full chunk that more bytes follow is emitted now; the rest waits (bounded).
        ready = (total - 1) // size
        out = self._start_output(ready * stride)
        pos = len(out) - ready * stride
        target = memoryview(out)
        for _ in range(ready):
            chunk_out = target[pos : pos + stride]
            if held is not None:
                self._cipher.seal_into(self._index, False, held, chunk_out)
                held = None
            elif self._pending_len:
                take = size - self._pending_len
                self._pending_buffer()[self._pending_len :] = view[:take]
                view = view[take:]
                self._cipher.seal_into(self._index, False, self._pending, chunk_out)
                self._pending_len = 0
            else:
                self._cipher.seal_into(self._index, False, view[:size], chunk_out)
                view = view[size:]
            self._index += 1
            pos += stride
        if self._pending_len == 0 and view.readonly and isinstance(view.obj, bytes):
            # Immutable bytes cannot change under us: hold a view instead of copying (ASGI
            # bodies arrive as bytes, so a chunk-sized piece is never copied). The view keeps
            # the caller's piece alive until the next call, no longer.
            self._held = view
        else:
            self._pending_buffer()[self._pending_len : self._pending_len + len(view)] = view
            self._pending_len += len(view)
        return out

    def finish(self) -> bytearray:
        """Emit the final chunk (an empty one for an empty object)."""
        if self._finished:
            raise RuntimeError("finish() called twice")
        self._finished = True
        if self._held is not None:
            plain, self._held = self._held, None
        else:
            plain = memoryview(self._pending)[: self._pending_len]
        out = self._start_output(len(plain) + TAG_SIZE)
        self._cipher.seal_into(
            self._index, True, plain, memoryview(out)[len(out) - len(plain) - TAG_SIZE :]
        )
        self._pending[:] = bytes(len(self._pending))
        return out

    def _pending_buffer(self) -> bytearray:
        if not self._pending:
            self._pending = bytearray(self._chunk_size)
        return self._pending

    def _start_output(self, body_size: int) -> bytearray:
        if self._header is None:
            return bytearray(body_size)
        out = bytearray(HEADER_SIZE + body_size)
        out[:HEADER_SIZE] = self._header
        self._header = None
        return out


class ChunkDecryptor:
    """Streaming, verifying decryption of the chunks a :class:`ChunkRange` names.

    Feed the header once to the constructor, then the bytes ``[ciphertext_start,
    ciphertext_end)`` in pieces of any size; each ``update()`` returns the plaintext of the
    range that is ready. ``finish()`` raises :class:`IntegrityError` if chunks are missing.
    More bytes than the range holds is an error at once.
    """

    __slots__ = (
        "_aead",
        "_buffer",
        "_buffer_len",
        "_cipher",
        "_final_index",
        "_index",
        "_object_id",
        "_plan",
        "_produced",
        "_skip",
        "_version",
    )

    def __init__(
        self,
        data_key: Buffer,
        object_id: bytes | str,
        header: Buffer,
        plan: ChunkRange,
        *,
        chunk_key: ChunkKeyDerivation = derive_chunk_key,
    ) -> None:
        salt = blob_salt(memoryview(header).cast("B"), plan.chunk_size)
        self._start(chunk_key(data_key, salt), object_id, plan, format_of_salt(salt))

    @classmethod
    def with_chunk_key(
        cls, aead: AESGCM, object_id: bytes | str, plan: ChunkRange, version: int
    ) -> Self:
        """A decryptor for the blob whose chunk key (had from the salt of its header,
        :func:`blob_salt`; ``version``: :func:`format_of_salt` of it) the caller already holds:
        a key cache that files chunk keys with their data key hands them out this way, the
        data key never leaving it."""
        decryptor = cls.__new__(cls)
        decryptor._start(aead, object_id, plan, version)
        return decryptor

    def _start(self, aead: AESGCM, object_id: bytes | str, plan: ChunkRange, version: int) -> None:
        self._aead = aead
        self._version = version
        # _object_id_bytes, inline: a decryptor is set up per GET.
        self._object_id = object_id.encode() if isinstance(object_id, str) else bytes(object_id)
        self._cipher: _ChunkCipher | None = None  # made when a second chunk is opened
        self._plan = plan
        # chunk_count, inline: a decryptor is set up per GET.
        self._final_index = max(1, -(-plan.plaintext_size // plan.chunk_size)) - 1
        self._index = plan.first_chunk
        self._buffer = bytearray()  # allocated when a chunk arrives split across pieces
        self._buffer_len = 0
        self._skip = plan.skip
        self._produced = 0

    def _chunk_stored_size(self, index: int) -> int:
        if index == self._final_index:
            return self._plan.plaintext_size - index * self._plan.chunk_size + TAG_SIZE
        return self._plan.chunk_size + TAG_SIZE

    def update(self, data: Buffer) -> bytearray:
        view = memoryview(data).cast("B")
        index = self._index
        plan = self._plan
        if not self._buffer_len and index == plan.last_chunk:
            # The last chunk of the range, whole in one piece (a small object's only chunk,
            # read with its header in one block): no list of pieces, no views of the output.
            final = index == self._final_index
            plain = plan.plaintext_size - index * plan.chunk_size if final else plan.chunk_size
            if len(view) == plain + TAG_SIZE:
                out = bytearray(plain)
                if self._cipher is None:
                    # _ChunkCipher's reusable buffers pay off from the second chunk on.
                    _open_chunk(
                        self._aead,
                        self._object_id,
                        plan.chunk_size,
                        self._version,
                        index,
                        final,
                        view,
                        out,
                    )
                else:
                    self._cipher.open_into(index, final, view, out)
                self._index = index + 1
                if self._skip or plain > plan.length - self._produced:
                    return self._trim(out)
                self._produced += plain
                return out
        pieces: list[tuple[int, memoryview]] = []
        if self._buffer_len:
            need = self._chunk_stored_size(index)
            take = min(need - self._buffer_len, len(view))
            self._chunk_buffer()[self._buffer_len : self._buffer_len + take] = view[:take]
            self._buffer_len += take
            view = view[take:]
            if self._buffer_len < need:
                return bytearray()
            pieces.append((index, memoryview(self._buffer)[:need]))
            index += 1
        while view:
            if index > self._plan.last_chunk:
                raise IntegrityError("more ciphertext than the encrypted blob holds")
            need = self._chunk_stored_size(index)
            if len(view) < need:
                break
            pieces.append((index, view[:need]))
            view = view[need:]
            index += 1
        # Decrypt before the buffer is refilled with the tail: a piece may be a view of it.
        out = self._open(pieces)
        self._index = index
        if view:
            self._chunk_buffer()[: len(view)] = view
        self._buffer_len = len(view)
        return out

    def _chunk_buffer(self) -> bytearray:
        if not self._buffer:
            self._buffer = bytearray(self._plan.chunk_size + TAG_SIZE)
        return self._buffer

    def _open(self, pieces: list[tuple[int, memoryview]]) -> bytearray:
        out = bytearray(sum(len(chunk) - TAG_SIZE for _, chunk in pieces))
        cipher = self._cipher
        if cipher is None:
            cipher = self._cipher = _ChunkCipher(
                self._aead, self._object_id, self._plan.chunk_size, self._version
            )
        with memoryview(out) as target:
            pos = 0
            for index, chunk in pieces:
                plain = len(chunk) - TAG_SIZE
                final = index == self._final_index
                cipher.open_into(index, final, chunk, target[pos : pos + plain])
                pos += plain
        return self._trim(out)

    def _trim(self, out: bytearray) -> bytearray:
        """Drop what precedes the range in its first chunk and what follows it in its last."""
        if self._skip and out:
            dropped = min(self._skip, len(out))
            del out[:dropped]
            self._skip -= dropped
        keep = self._plan.length - self._produced
        if len(out) > keep:
            del out[keep:]
        self._produced += len(out)
        return out

    def finish(self) -> None:
        """Check that every chunk of the range arrived (truncation is an error, not EOF)."""
        if self._index <= self._plan.last_chunk or self._buffer_len:
            raise IntegrityError("encrypted blob is truncated")


def _chunk_nonce_and_aad(
    object_id: bytes, chunk_size: int, version: int, index: int, final: bool
) -> tuple[bytes, bytes]:
    """One chunk's nonce and AAD built as they are (no reusable buffers: one chunk)."""
    position = _CHUNK_POSITION.pack(index, final)
    aad = _AAD_PREFIX.pack(version, chunk_size, len(object_id)) + object_id + position
    return position + _NONCE_PAD, aad


def _open_chunk(
    aead: AESGCM,
    object_id: bytes,
    chunk_size: int,
    version: int,
    index: int,
    final: bool,
    stored: bytes | bytearray | memoryview,
    out: bytearray,
) -> None:
    """Open one chunk into ``out``."""
    nonce, aad = _chunk_nonce_and_aad(object_id, chunk_size, version, index, final)
    try:
        aead.decrypt_into(nonce, stored, aad, out)
    except InvalidTag:
        raise IntegrityError(f"chunk {index} failed authentication") from None


def open_single_chunk(
    aead: AESGCM,
    object_id: bytes | str,
    plan: ChunkRange,
    stored: bytes | bytearray | memoryview,
    version: int,
) -> bytes:
    """The plaintext of a range that lies in one chunk, from that chunk's stored bytes
    (ciphertext and tag, exactly) and the blob's chunk key (``version``: the blob's format,
    :func:`format_of_salt`): what a :class:`ChunkDecryptor`
    would give for it, without one (a small object's GET: one call). ``bytes``, which the
    ASGI server writes as they are (a ``bytearray`` is wrapped in views first).
    ``IntegrityError`` if the chunk fails authentication or ``stored`` is not that whole
    chunk; ``ValueError`` for a range over more than one chunk."""
    index = plan.first_chunk
    if index != plan.last_chunk:
        raise ValueError("the range spans more than one chunk")
    chunk_size = plan.chunk_size
    final = index == max(1, -(-plan.plaintext_size // chunk_size)) - 1  # chunk_count, inline
    plain = plan.plaintext_size - index * chunk_size if final else chunk_size
    if len(stored) != plain + TAG_SIZE:
        raise IntegrityError("encrypted blob is truncated")
    identity = object_id.encode() if isinstance(object_id, str) else bytes(object_id)
    if index == 0 and final:  # a small object's one chunk: nonce and position made once
        nonce = _ONLY_NONCE
        aad = _AAD_PREFIX.pack(version, chunk_size, len(identity)) + identity + _ONLY_POSITION
    else:
        nonce, aad = _chunk_nonce_and_aad(identity, chunk_size, version, index, final)
    try:
        out = aead.decrypt(nonce, stored, aad)
    except InvalidTag:
        raise IntegrityError(f"chunk {index} failed authentication") from None
    skip, length = plan.skip, plan.length
    if skip or len(out) > length:
        return out[skip : skip + length]
    return out


def seal_single_chunk(
    aead: AESGCM,
    salt: bytes,
    object_id: bytes | str,
    plaintext: bytes | bytearray | memoryview,
    chunk_size: int = CHUNK_SIZE,
) -> bytes:
    """The whole encrypted blob (header and its one, final chunk) of a plaintext of at most
    ``chunk_size`` bytes, whose chunk key ``aead`` was had with ``salt`` (``NO_SALT``: the
    blob's fresh data key itself, format 2): exactly what a :class:`ChunkEncryptor` drawing
    that salt would give, in one call (a small object's PUT: no encryptor, no buffers).
    ``ValueError`` for a plaintext over one chunk."""
    if len(plaintext) > chunk_size:
        raise ValueError("the plaintext is longer than one chunk")
    if salt and len(salt) != SALT_SIZE:
        raise ValueError("a blob salt is 32 bytes")
    identity = object_id.encode() if isinstance(object_id, str) else bytes(object_id)
    version = FORMAT_SALTED if salt else FORMAT_FRESH_KEY
    aad = _AAD_PREFIX.pack(version, chunk_size, len(identity)) + identity + _ONLY_POSITION
    return _header(salt, chunk_size) + aead.encrypt(_ONLY_NONCE, plaintext, aad)


def encrypt_blob(
    data_key: Buffer,
    object_id: bytes | str,
    plaintext: Buffer,
    *,
    chunk_size: int = CHUNK_SIZE,
    fresh_key: bool = False,
) -> bytearray:
    """Encrypt a whole plaintext held in memory (small objects, tests); ``fresh_key`` as for
    :class:`ChunkEncryptor`."""
    encryptor = ChunkEncryptor(data_key, object_id, chunk_size=chunk_size, fresh_key=fresh_key)
    out = encryptor.update(plaintext)
    out += encryptor.finish()
    return out


def decrypt_blob(
    data_key: Buffer, object_id: bytes | str, blob: Buffer, *, chunk_size: int = CHUNK_SIZE
) -> bytearray:
    """Decrypt and verify a whole blob held in memory (small objects, tests)."""
    view = memoryview(blob).cast("B")
    size = plaintext_size(len(view), chunk_size)
    plan = plan_range(size, 0, size, chunk_size)
    decryptor = ChunkDecryptor(data_key, object_id, view[:HEADER_SIZE], plan)
    out = decryptor.update(view[plan.ciphertext_start : plan.ciphertext_end])
    decryptor.finish()
    return out
