"""A test OpenID Connect identity provider: signing keys the test makes, ID tokens signed with
them, the discovery document and JWKS — served in process (``IdentityProvider.fetch``, for
``JwksCache``) or over real HTTPS on 127.0.0.1 with a trustme certificate (``https_idp``).

Served over HTTPS it is also an authorization server for the authorization code flow with PKCE
(the console's OIDC sign-in, decision 0141): its ``authorization_endpoint`` signs in the
``login`` the test set, at once, and redirects back with a code; its ``token_endpoint`` takes
each code once, checks the PKCE verifier, the client and the redirect URI as a real issuer
does, and answers an ID token carrying the request's ``nonce``. With ``end_session`` set, its
discovery document names an ``end_session_endpoint`` (RP-initiated logout), which records each
request and redirects to its ``post_logout_redirect_uri``."""

from __future__ import annotations

import base64
import hashlib
import html
import json
import secrets
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
import trustme
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from andromede.iam.errors import IdpCommunicationError
from support.rsa_keys import rsa_private_key

__all__ = ["IdentityProvider", "Login", "SigningKey", "https_idp", "write_ca"]


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
        return cls(kid, algorithm, rsa_private_key())

    def jwk(self) -> dict[str, Any]:
        public = self.private.public_key()
        exported = (
            ECAlgorithm.to_jwk(public, as_dict=True)
            if self.algorithm.startswith("ES")
            else RSAAlgorithm.to_jwk(public, as_dict=True)
        )
        return {**exported, "kid": self.kid, "use": "sig", "alg": self.algorithm}


@dataclass
class Login:
    """What the authorization endpoint does for the next browser: sign in ``sub`` (its ID
    token gets ``claims`` too, lasts ``lifetime`` seconds), or answer ``error`` instead of a
    code; ``nonce``, when set, replaces the one the request asked for (a wrong nonce)."""

    sub: str = "alice@example.com"
    claims: dict[str, Any] = field(default_factory=dict)
    lifetime: int = 600
    error: str | None = None
    nonce: str | None = None


@dataclass
class _Grant:
    client_id: str
    redirect_uri: str
    challenge: str
    nonce: str | None
    login: Login
    used: bool = False


@dataclass
class IdentityProvider:
    """An issuer (``https://<host>/<path>``) with its keys; ``published`` are the keys its
    JWKS shows (rotation: change them)."""

    issuer: str
    keys: list[SigningKey] = field(default_factory=lambda: [SigningKey.make("key-1")])
    published: list[SigningKey] | None = None
    fetched: list[str] = field(default_factory=list)
    down: bool = False
    login: Login = field(default_factory=Login)
    # A confidential client's secret: its token requests must carry it (HTTP Basic).
    client_secret: str | None = None
    # A confidential client's public key (private_key_jwt, RFC 7523): its token requests must
    # carry a client assertion signed with the private key, each ``jti`` once.
    client_key: Any = None
    _assertions: set[str] = field(default_factory=set)
    # Served over HTTPS: the authorization endpoint shows a sign-in page whose button posts
    # back to it (as Keycloak's does), so that the redirect back is begun on the issuer's page.
    login_page: bool = False
    # What the token endpoint was sent, each request's form (to check what the console sends).
    token_requests: list[dict[str, str]] = field(default_factory=list)
    issued: list[str] = field(default_factory=list)  # the ID tokens it answered
    # RP-initiated logout: whether the discovery document names the end_session_endpoint, and
    # the query of each request it had.
    end_session: bool = False
    logouts: list[dict[str, str]] = field(default_factory=list)
    _grants: dict[str, _Grant] = field(default_factory=dict)

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
        discovery: dict[str, Any] = {
            "issuer": self.issuer,
            "jwks_uri": jwks_uri,
            "authorization_endpoint": self.issuer.rstrip("/") + "/authorize",
            "token_endpoint": self.issuer.rstrip("/") + "/token",
            "response_types_supported": ["code"],
            "code_challenge_methods_supported": ["S256"],
        }
        if self.end_session:
            discovery["end_session_endpoint"] = self.issuer.rstrip("/") + "/logout"
        return {
            self.issuer.rstrip("/") + "/.well-known/openid-configuration": json.dumps(
                discovery
            ).encode(),
            jwks_uri: json.dumps({"keys": [k.jwk() for k in shown]}).encode(),
        }

    def authorize(self, query: str) -> str:
        """The authorization endpoint: where it redirects the browser (``redirect_uri`` with a
        code or an error, and the request's ``state``). ValueError for a request it refuses
        outright (a real issuer shows its own error page then)."""
        asked = {k: v[0] for k, v in parse_qs(query).items()}
        if asked.get("response_type") != "code" or asked.get("code_challenge_method") != "S256":
            raise ValueError("only the code flow with PKCE S256")
        if "openid" not in asked.get("scope", "").split() or not asked.get("code_challenge"):
            raise ValueError("scope openid and a code_challenge are required")
        redirect_uri, state = asked["redirect_uri"], asked.get("state")
        login = self.login
        if login.error is not None:
            answer = {"error": login.error, "state": state}
        else:
            code = secrets.token_urlsafe(16)
            self._grants[code] = _Grant(
                asked["client_id"], redirect_uri, asked["code_challenge"], asked.get("nonce"), login
            )
            answer = {"code": code, "state": state}
        query_part = urlencode({k: v for k, v in answer.items() if v is not None})
        return f"{redirect_uri}?{query_part}"

    def exchange(
        self, form: dict[str, str], authorization: str | None = None
    ) -> tuple[int, dict[str, Any]]:
        """The token endpoint: (status, JSON answer), as RFC 6749 section 5 answers."""
        self.token_requests.append(form)
        if self.client_secret is not None:
            pair = f"{form.get('client_id', '')}:{self.client_secret}"
            if authorization != "Basic " + base64.b64encode(pair.encode()).decode():
                return 401, {"error": "invalid_client"}
        if self.client_key is not None and not self._client_asserted(form):
            return 401, {"error": "invalid_client"}
        grant = self._grants.get(form.get("code", ""))
        if form.get("grant_type") != "authorization_code":
            return 400, {"error": "unsupported_grant_type"}
        if grant is None or grant.used:
            return 400, {"error": "invalid_grant", "error_description": "code used or unknown"}
        grant.used = True  # one use, whatever follows (RFC 6749 section 4.1.2)
        verifier = form.get("code_verifier", "")
        digest = hashlib.sha256(verifier.encode()).digest()
        challenge = base64.urlsafe_b64encode(digest).decode().rstrip("=")
        if challenge != grant.challenge:
            return 400, {"error": "invalid_grant", "error_description": "PKCE verification"}
        if form.get("client_id") != grant.client_id or form.get("redirect_uri") != (
            grant.redirect_uri
        ):
            return 400, {"error": "invalid_grant", "error_description": "client or redirect"}
        login = grant.login
        nonce = login.nonce if login.nonce is not None else grant.nonce
        id_token = self.token(
            sub=login.sub, aud=grant.client_id, lifetime=login.lifetime, nonce=nonce, **login.claims
        )
        self.issued.append(id_token)
        return 200, {"access_token": "opaque", "token_type": "Bearer", "id_token": id_token}

    def _client_asserted(self, form: dict[str, str]) -> bool:
        """Whether the form authenticates its client with ``private_key_jwt`` as OpenID Connect
        Core section 9 asks: the JWT signed with the client's key, ``iss`` and ``sub`` the
        client id, ``aud`` this token endpoint, not expired, its ``jti`` not seen before."""
        if form.get("client_assertion_type") != (
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
        ):
            return False
        try:
            claims = jwt.decode(
                form.get("client_assertion", ""),
                self.client_key,
                algorithms=["RS256", "PS256", "ES256", "ES384"],
                audience=self.issuer.rstrip("/") + "/token",
                options={"require": ["iss", "sub", "aud", "exp", "jti"]},
            )
        except jwt.PyJWTError:
            return False
        client_id = form.get("client_id")
        if claims["iss"] != client_id or claims["sub"] != client_id:
            return False
        if claims["jti"] in self._assertions:
            return False
        self._assertions.add(claims["jti"])
        return True

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
            where = urlsplit(self.path)
            if where.path == f"{path}/authorize":
                if provider.login_page:
                    self._send(200, "text/html", _login_page(f"{path}/authorize", where.query))
                else:
                    self._authorize(where.query)
                return
            if where.path == f"{path}/logout" and provider.end_session:
                asked = {k: v[0] for k, v in parse_qs(where.query).items()}
                provider.logouts.append(asked)
                back = asked.get("post_logout_redirect_uri")
                if back is None:
                    self._send(200, "text/html", b"<!doctype html><title>Signed out</title>")
                    return
                self.send_response(302)
                self.send_header("Location", back)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
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

        def do_POST(self) -> None:
            provider = holder["idp"]
            length = int(self.headers.get("Content-Length", "0"))
            form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
            where = urlsplit(self.path).path
            if where == f"{path}/authorize":  # the sign-in page's button
                self._authorize(form.get("query", ""))
                return
            if where != f"{path}/token":
                self._send(404, "text/plain", b"")
                return
            status, answer = provider.exchange(form, self.headers.get("Authorization"))
            self._send(status, "application/json", json.dumps(answer).encode())

        def _authorize(self, query: str) -> None:
            try:
                location = holder["idp"].authorize(query)
            except (ValueError, KeyError):
                self._send(400, "text/plain", b"")
                return
            self.send_response(302)
            self.send_header("Location", location)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def _send(self, status: int, content_type: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
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


def _login_page(action: str, query: str) -> bytes:
    return (
        "<!doctype html><title>Sign in to acme</title>"
        f'<form method="post" action="{html.escape(action)}">'
        f'<input type="hidden" name="query" value="{html.escape(query)}">'
        '<button id="kc-login" type="submit">Sign in</button></form>'
    ).encode()


def write_ca(ca: trustme.CA, path: Path) -> Path:
    ca.cert_pem.write_to_path(str(path))
    return path
