"""A test OpenID Connect identity provider: signing keys the test makes, ID tokens signed with
them, the discovery document and JWKS — served in process (``IdentityProvider.fetch``, for
``JwksCache``) or over real HTTPS on 127.0.0.1 with a trustme certificate (``https_idp``)."""

from __future__ import annotations

import json
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import trustme
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from andromede.iam.errors import IdpCommunicationError

__all__ = ["IdentityProvider", "SigningKey", "https_idp", "write_ca"]


@dataclass
class SigningKey:
    kid: str
    algorithm: str
    private: Any

    @classmethod
    def make(cls, kid: str, algorithm: str = "RS256") -> SigningKey:
        if algorithm.startswith("ES"):
            curve = ec.SECP256R1() if algorithm == "ES256" else ec.SECP384R1()
            return cls(kid, algorithm, ec.generate_private_key(curve))
        return cls(kid, algorithm, rsa.generate_private_key(public_exponent=65537, key_size=2048))

    def jwk(self) -> dict[str, Any]:
        public = self.private.public_key()
        exported = (
            ECAlgorithm.to_jwk(public, as_dict=True)
            if self.algorithm.startswith("ES")
            else RSAAlgorithm.to_jwk(public, as_dict=True)
        )
        return {**exported, "kid": self.kid, "use": "sig", "alg": self.algorithm}


@dataclass
class IdentityProvider:
    """An issuer (``https://<host>/<path>``) with its keys; ``published`` are the keys its
    JWKS shows (rotation: change them)."""

    issuer: str
    keys: list[SigningKey] = field(default_factory=lambda: [SigningKey.make("key-1")])
    published: list[SigningKey] | None = None
    fetched: list[str] = field(default_factory=list)
    down: bool = False

    @property
    def url(self) -> str:
        return self.issuer.removeprefix("https://")

    def token(
        self,
        *,
        sub: str = "repo:acme/site:ref:refs/heads/main",
        aud: str | list[str] = "sts.amazonaws.com",
        key: SigningKey | None = None,
        lifetime: int = 600,
        header: dict[str, Any] | None = None,
        **claims: Any,
    ) -> str:
        """An ID token of this issuer, signed with ``key`` (the first by default)."""
        signer = key or self.keys[0]
        now = int(time.time())
        payload: dict[str, Any] = {
            "iss": self.issuer,
            "sub": sub,
            "aud": aud,
            "iat": now,
            "nbf": now,
            "exp": now + lifetime,
            **claims,
        }
        payload = {name: value for name, value in payload.items() if value is not None}
        headers = {"kid": signer.kid, **(header or {})}
        return jwt.encode(payload, signer.private, algorithm=signer.algorithm, headers=headers)

    def documents(self) -> dict[str, bytes]:
        """URL -> body, as the issuer serves them."""
        jwks_uri = self.issuer.rstrip("/") + "/keys"
        shown = self.keys if self.published is None else self.published
        return {
            self.issuer.rstrip("/") + "/.well-known/openid-configuration": json.dumps(
                {"issuer": self.issuer, "jwks_uri": jwks_uri}
            ).encode(),
            jwks_uri: json.dumps({"keys": [k.jwk() for k in shown]}).encode(),
        }

    async def fetch(self, url: str) -> bytes:
        """For ``JwksCache(fetch=…)``: the documents without a network."""
        self.fetched.append(url)
        if self.down:
            raise IdpCommunicationError("down")
        found = self.documents().get(url)
        if found is None:
            raise IdpCommunicationError(f"no document at {url}")
        return found


@contextmanager
def https_idp(
    ca: trustme.CA, *, path: str = "", host: str = "127.0.0.1"
) -> Iterator[IdentityProvider]:
    """An issuer served over HTTPS on 127.0.0.1 (a trustme certificate of ``ca`` for ``host``),
    in a thread: ``https://<host>:<port><path>``; ``host`` must resolve to 127.0.0.1."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(host).configure_cert(context)
    holder: dict[str, IdentityProvider] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            provider = holder["idp"]
            provider.fetched.append(self.path)
            origin = provider.issuer[: len(provider.issuer) - len(path)]
            body = provider.documents().get(origin + self.path)
            if body is None:
                self.send_response(404)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    port = server.server_address[1]
    holder["idp"] = IdentityProvider(f"https://{host}:{port}{path}")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield holder["idp"]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def write_ca(ca: trustme.CA, path: Path) -> Path:
    ca.cert_pem.write_to_path(str(path))
    return path
