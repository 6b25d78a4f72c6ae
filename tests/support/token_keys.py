"""An in-memory twin of a token's Ed25519 key pairs (``audit_keys.Ed25519KeyPairs``).

One :class:`MemoryToken` is the token; each :class:`MemoryTokenKeys` over it is one
gateway's view, as each gateway has its own session, so a test can race two gateways on one
token. Creating a pair can be slowed down so that two gateways' creations overlap.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from andromede.audit.note import public_key_bytes
from andromede.kms.errors import AlgorithmNotOffered


@dataclass
class MemoryPair:
    token: MemoryToken
    label: str
    key_id: bytes
    private: Ed25519PrivateKey = field(repr=False)

    @property
    def public_key(self) -> bytes:
        return public_key_bytes(self.private.public_key())

    def sign(self, message: bytes) -> bytes:
        return self.private.sign(message)

    def destroy(self) -> None:
        with self.token.lock:
            self.token.pairs.remove(self)


@dataclass
class MemoryToken:
    offers_ed25519: bool = True
    create_delay: float = 0.0
    pairs: list[MemoryPair] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass
class MemoryTokenKeys:
    token: MemoryToken
    created: list[MemoryPair] = field(default_factory=list)

    def ed25519_keys(self, label: str) -> list[MemoryPair]:
        self._check()
        with self.token.lock:
            return sorted((p for p in self.token.pairs if p.label == label), key=_key_id)

    def create_ed25519_key(self, label: str) -> MemoryPair:
        self._check()
        time.sleep(self.token.create_delay)
        pair = MemoryPair(self.token, label, os.urandom(8), Ed25519PrivateKey.generate())
        with self.token.lock:
            self.token.pairs.append(pair)
        self.created.append(pair)
        return pair

    def _check(self) -> None:
        if not self.token.offers_ed25519:
            raise AlgorithmNotOffered("the PKCS#11 token 'twin' offers no Ed25519 keys")


def _key_id(pair: MemoryPair) -> bytes:
    return pair.key_id
