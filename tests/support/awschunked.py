"""An aws-chunked encoder written from AWS's documented string-to-sign formulas.

Independent of ``andromede.http.chunked`` on purpose: tests decode what this encodes.
"""

from __future__ import annotations

import hashlib
import hmac

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from andromede.http.sigv4 import SigningContext

__all__ = ["encode_signed", "encode_signed_v4a"]


def encode_signed(
    data: bytes, chunk_size: int, context: SigningContext, trailers: dict[str, str] | None
) -> bytes:
    """An independent encoder following the docs' string-to-sign formulas."""
    empty = hashlib.sha256(b"").hexdigest()
    previous, out = context.seed_signature, []
    chunks = [data[i : i + chunk_size] for i in range(0, len(data), chunk_size)] + [b""]
    for chunk in chunks:
        sts = "\n".join(
            ["AWS4-HMAC-SHA256-PAYLOAD", context.amz_date, context.scope, previous, empty,
             hashlib.sha256(chunk).hexdigest()]
        )  # fmt: skip
        previous = hmac.new(context.signing_key, sts.encode(), hashlib.sha256).hexdigest()
        out.append(f"{len(chunk):x};chunk-signature={previous}\r\n".encode() + chunk)
        out.append(b"\r\n" if chunk else b"")
    if trailers is None:
        return b"".join(out) + b"\r\n"
    lines = "".join(f"{k}:{v}\n" for k, v in trailers.items())
    sts = "\n".join(
        ["AWS4-HMAC-SHA256-TRAILER", context.amz_date, context.scope, previous,
         hashlib.sha256(lines.encode()).hexdigest()]
    )  # fmt: skip
    signature = hmac.new(context.signing_key, sts.encode(), hashlib.sha256).hexdigest()
    wire = "".join(f"{k}:{v}\r\n" for k, v in trailers.items())
    return b"".join(out) + f"{wire}x-amz-trailer-signature:{signature}\r\n\r\n".encode()


def encode_signed_v4a(
    data: bytes,
    chunk_size: int,
    *,
    private_value: int,
    amz_date: str,
    scope: str,
    seed: str,
    trailers: dict[str, str] | None,
) -> bytes:
    """The same framing signed as AWS's CRT signs SigV4a chunks (decision 0380): ECDSA over
    ``AWS4-ECDSA-P256-SHA256-PAYLOAD`` strings, each hex DER signature padded with ``*`` to
    144 characters on the wire and chained unpadded."""
    key = ec.derive_private_key(private_value, ec.SECP256R1())

    def signature(sts: str) -> str:
        return key.sign(sts.encode(), ec.ECDSA(hashes.SHA256())).hex()

    empty = hashlib.sha256(b"").hexdigest()
    previous, out = seed, []
    chunks = [data[i : i + chunk_size] for i in range(0, len(data), chunk_size)] + [b""]
    for chunk in chunks:
        sts = "\n".join(
            ["AWS4-ECDSA-P256-SHA256-PAYLOAD", amz_date, scope, previous, empty,
             hashlib.sha256(chunk).hexdigest()]
        )  # fmt: skip
        previous = signature(sts)
        out.append(f"{len(chunk):x};chunk-signature={previous:*<144}\r\n".encode() + chunk)
        out.append(b"\r\n" if chunk else b"")
    if trailers is None:
        return b"".join(out) + b"\r\n"
    lines = "".join(f"{k}:{v}\n" for k, v in trailers.items())
    sts = "\n".join(
        ["AWS4-ECDSA-P256-SHA256-TRAILER", amz_date, scope, previous,
         hashlib.sha256(lines.encode()).hexdigest()]
    )  # fmt: skip
    wire = "".join(f"{k}:{v}\r\n" for k, v in trailers.items())
    return b"".join(out) + f"{wire}x-amz-trailer-signature:{signature(sts):*<144}\r\n\r\n".encode()
