"""The XKS proxy service: the four operations over the token, off the event loop, bounded.

Owns what happens between a verified, parsed request and its answer:

- the token's calls, each on the one thread that talks to the library, within
  ``hsm_timeout`` seconds (``DependencyTimeoutException`` past it: the call is not cancelled
  in the library, but the caller is answered), and at most ``max_in_flight`` requests waiting
  for it (``ThrottlingException`` beyond: a slow HSM must not pile up unbounded work);
- Encrypt's CDIV as Appendix C orders it: encrypt, compute the CDIV over the result, then
  decrypt that result in the token and compare with the plaintext; only then answer (a
  mismatch is ``InternalException``, never a ciphertext that would not decrypt);
- GetHealthStatus: a fresh round trip in the token on every call (well within KMS's
  250 ms for a local token), reported as one ``ACTIVE`` key manager; a failure is the error.

Responses are plain dicts in the spec's field names; plaintexts live only in them.
"""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from andromede import __version__
from andromede.xks.errors import (
    DependencyTimeoutException,
    InternalException,
    InvalidCiphertextException,
    ThrottlingException,
)
from andromede.xks.model import (
    DecryptRequest,
    EncryptRequest,
    cdiv,
    gcm_aad,
)
from andromede.xks.token import Token, TokenDescription

__all__ = ["PROXY_MODEL", "PROXY_VENDOR", "XksService"]

PROXY_VENDOR = "Andromede"
PROXY_MODEL = f"Andromede XKS Proxy {__version__}"
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class _Limits:
    hsm_timeout: float
    max_in_flight: int


class XksService:
    """The operations of one proxy over one token."""

    def __init__(
        self,
        token: Token,
        *,
        hsm_timeout: float,
        max_in_flight: int,
    ) -> None:
        self._token = token
        self._limits = _Limits(hsm_timeout, max_in_flight)
        # The library is used from this one thread only (see token.py).
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="xks-token"
        )
        self._in_flight = 0
        self._description: TokenDescription | None = None

    def close(self) -> None:
        self._executor.submit(self._token.close)
        self._executor.shutdown(wait=True, cancel_futures=False)

    async def _call(self, work: Callable[[], _T]) -> _T:
        if self._in_flight >= self._limits.max_in_flight:
            raise ThrottlingException(detail="too many requests waiting for the token")
        self._in_flight += 1
        try:
            future = asyncio.get_running_loop().run_in_executor(self._executor, work)
            try:
                return await asyncio.wait_for(asyncio.shield(future), self._limits.hsm_timeout)
            except TimeoutError:
                raise DependencyTimeoutException(
                    detail=f"the token did not answer within {self._limits.hsm_timeout:g} s"
                ) from None
        finally:
            self._in_flight -= 1

    async def get_key_metadata(self, key_id: str) -> dict[str, Any]:
        info = await self._call(lambda: self._token.key_info(key_id))
        return {
            "keySpec": info.key_spec,
            "keyUsage": list(info.key_usage)[:10],
            "keyStatus": info.key_status,
        }

    async def encrypt(self, key_id: str, request: EncryptRequest) -> dict[str, Any]:
        aad = gcm_aad(request.aad, None)  # this proxy returns no ciphertextMetadata
        iv, ciphertext, tag = await self._call(
            lambda: self._token.encrypt(key_id, request.plaintext, aad)
        )
        answer = {
            "ciphertext": _b64(ciphertext),
            "initializationVector": _b64(iv),
            "authenticationTag": _b64(tag),
        }
        if request.cdiv_algorithm is not None:
            # Appendix C's order: the CDIV over the output first, then the proof that this
            # output decrypts, so that a corruption after the CDIV cannot go unnoticed.
            answer["ciphertextDataIntegrityValue"] = cdiv(request.aad, None, iv, ciphertext, tag)
            try:
                opened = await self._call(
                    lambda: self._token.decrypt(key_id, iv, ciphertext, tag, aad)
                )
            except InvalidCiphertextException:
                raise InternalException(
                    "The ciphertext did not decrypt; nothing was returned."
                ) from None
            if opened != request.plaintext:
                raise InternalException("The ciphertext did not decrypt to the plaintext.")
        return answer

    async def decrypt(self, key_id: str, request: DecryptRequest) -> dict[str, Any]:
        aad = gcm_aad(request.aad, request.ciphertext_metadata)
        plaintext = await self._call(
            lambda: self._token.decrypt(key_id, request.iv, request.ciphertext, request.tag, aad)
        )
        return {"plaintext": _b64(plaintext)}

    async def get_health_status(self) -> dict[str, Any]:
        await self._call(self._token.health_check)
        if self._description is None:
            self._description = await self._call(self._token.describe)
        token = self._description
        return {
            "xksProxyFleetSize": 1,
            "xksProxyVendor": PROXY_VENDOR,
            "xksProxyModel": PROXY_MODEL,
            "ekmVendor": token.manufacturer or "unknown",
            "ekmFleetDetails": [
                {
                    "id": f"{token.label} (serial {token.serial})",
                    "model": f"{token.model} (hardware {token.hardware_version}, firmware "
                    f"{token.firmware_version}; {token.library})",
                    "healthStatus": "ACTIVE",
                }
            ],
        }


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
