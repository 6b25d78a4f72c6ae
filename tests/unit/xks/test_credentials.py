"""SigV4 verification of XKS requests against botocore's own signer, the credential formats
and the credentials file."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from andromede.errors import ConfigurationError
from andromede.xks.credentials import (
    SERVICE,
    Credential,
    load_credentials,
    new_credential,
    verify_request,
)
from andromede.xks.errors import AuthenticationFailedException

REGION = "eu-fr-1"
URL = "https://xks.example.com/tenant-a/kms/xks/v1/keys/key-1/encrypt"
BODY = json.dumps({"requestMetadata": {"kmsRequestId": "r", "kmsOperation": "Encrypt"}}).encode()
OLD = Credential("AKIAI2SFODNN7EXAMPLEAAAAAA", "FYtE5EFA5FT0mCc3DrGUe2sti527BitkQ0Zr9MO9fvE")
NEW = new_credential()


def signed(
    credential: Credential = OLD,
    *,
    secret: str | None = None,
    service: str = SERVICE,
    region: str = REGION,
    body: bytes = BODY,
    url: str = URL,
) -> tuple[dict[str, str], datetime]:
    request = AWSRequest(
        method="POST", url=url, data=body, headers={"Content-Type": "application/json"}
    )
    keys = Credentials(credential.access_key_id, secret or credential.secret())
    SigV4Auth(keys, service, region).add_auth(request)
    headers = {name.lower(): value for name, value in request.headers.items()}
    headers["host"] = urlsplit(url).netloc
    signed_at = datetime.strptime(headers["x-amz-date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    return headers, signed_at


def verify(
    headers: dict[str, str],
    now: datetime,
    *,
    body: bytes = BODY,
    credentials: tuple[Credential, ...] = (OLD, NEW),
    raw_query: str = "",
    path: str = urlsplit(URL).path,
) -> str:
    return verify_request(
        method="POST",
        raw_path=path,
        raw_query=raw_query,
        headers=headers,
        body=body,
        credentials=credentials,
        region=REGION,
        now=now,
    ).access_key_id


def refused(headers: dict[str, str], now: datetime, **kwargs: object) -> str:
    with pytest.raises(AuthenticationFailedException) as caught:
        verify(headers, now, **kwargs)  # type: ignore[arg-type]
    assert caught.value.error_name == "AuthenticationFailedException"
    return caught.value.detail or ""


def test_botocore_signed_requests_verify_with_either_credential() -> None:
    """Two credentials at once: the spec's rotation, old and new both accepted."""
    for credential in (OLD, NEW):
        headers, at = signed(credential)
        assert verify(headers, at) == credential.access_key_id


def test_a_removed_credential_is_refused() -> None:
    headers, at = signed(OLD)
    assert refused(headers, at, credentials=(NEW,)) == "unknown access key id"


def test_wrong_secret() -> None:
    headers, at = signed(OLD, secret="x" * 43)
    assert refused(headers, at) == "signature mismatch"


def test_wrong_service() -> None:
    for service in ("kms", "kms-xks", "s3"):
        headers, at = signed(service=service)
        assert "service" in refused(headers, at)


def test_wrong_region() -> None:
    headers, at = signed(region="us-east-1")
    assert "region" in refused(headers, at)


def test_skewed_date() -> None:
    """Five minutes either way (Appendix A), not the fifteen of S3."""
    headers, at = signed()
    assert verify(headers, at + timedelta(seconds=299)) == OLD.access_key_id
    assert verify(headers, at - timedelta(seconds=299)) == OLD.access_key_id
    assert "5 minutes" in refused(headers, at + timedelta(seconds=301))
    assert "5 minutes" in refused(headers, at - timedelta(seconds=301))


def test_tampered_body() -> None:
    headers, at = signed()
    tampered = BODY.replace(b"Encrypt", b"Decrypt")
    assert refused(headers, at, body=tampered) == "signature mismatch"


def test_a_claimed_body_hash_must_be_the_body_s() -> None:
    headers, at = signed()
    headers["x-amz-content-sha256"] = "0" * 64
    assert "x-amz-content-sha256" in refused(headers, at)


def test_tampered_path_or_host() -> None:
    headers, at = signed()
    assert refused(headers, at, path="/tenant-a/kms/xks/v1/keys/key-2/encrypt") == (
        "signature mismatch"
    )
    assert refused({**headers, "host": "other.example.com"}, at) == "signature mismatch"


def test_unsigned_presigned_and_query_requests_are_refused() -> None:
    headers, at = signed()
    del headers["authorization"]
    assert refused(headers, at) == "no Authorization header"
    headers, at = signed()
    assert "query" in refused(headers, at, raw_query="a=b")


def test_malformed_authorization() -> None:
    headers, at = signed()
    headers["authorization"] = "AWS4-HMAC-SHA256 Credential=abc"
    assert refused(headers, at).startswith("malformed")


def test_x_amz_date_must_be_signed() -> None:
    headers, at = signed()
    headers["authorization"] = re.sub(
        r"SignedHeaders=[^,]+", "SignedHeaders=content-type;host", headers["authorization"]
    )
    assert refused(headers, at) == "x-amz-date is not signed"


def test_the_failure_message_tells_nothing_of_the_credentials() -> None:
    headers, at = signed(OLD, secret="y" * 43)
    with pytest.raises(AuthenticationFailedException) as caught:
        verify(headers, at)
    assert caught.value.message == "The request signature could not be verified."
    assert OLD.secret() not in str(caught.value)


# --------------------------------------------------------------------------- formats


def test_new_credentials_have_the_spec_formats() -> None:
    seen = set()
    for _ in range(20):
        credential = new_credential()
        assert re.fullmatch(r"[A-Z2-7]{20,30}", credential.access_key_id)
        assert re.fullmatch(r"[A-Za-z0-9+/=]{43,64}", credential.secret())
        seen.add(credential.access_key_id)
    assert len(seen) == 20


def test_a_credential_hides_its_secret() -> None:
    assert OLD.secret() not in repr(OLD)


@pytest.mark.parametrize(
    ("key_id", "secret"),
    [
        ("A" * 19, "s" * 43),
        ("A" * 31, "s" * 43),
        ("AKIA1" + "A" * 20, "s" * 43),  # 1 is not Base32
        ("a" * 20, "s" * 43),
        ("A" * 20, "s" * 42),
        ("A" * 20, "s" * 65),
        ("A" * 20, "s" * 42 + "!"),
    ],
)
def test_credential_formats_are_enforced(key_id: str, secret: str) -> None:
    with pytest.raises(ValueError):
        Credential(key_id, secret)


def write(path: Path, text: str, mode: int = 0o600) -> Path:
    path.write_text(text)
    path.chmod(mode)
    return path


def test_credentials_files_in_toml_and_json(tmp_path: Path) -> None:
    toml = write(
        tmp_path / "c.toml",
        "".join(
            f'[[credentials]]\naccess_key_id = "{c.access_key_id}"\n'
            f'secret_access_key = "{c.secret()}"\n'
            for c in (OLD, NEW)
        ),
    )
    assert load_credentials(toml) == (OLD, NEW)
    entries = [{"access_key_id": c.access_key_id, "secret_access_key": c.secret()} for c in (NEW,)]
    document = json.dumps({"credentials": entries})
    assert load_credentials(write(tmp_path / "c.json", document)) == (NEW,)


@pytest.mark.parametrize(
    "document",
    [
        "{}",
        '{"credentials": []}',
        '{"credentials": [{"access_key_id": "A"}]}',
        '{"credentials": [{"access_key_id": "AAAAAAAAAAAAAAAAAAAA", "secret_access_key": "s"}]}',
        "not json",
    ],
)
def test_bad_credentials_files_are_refused(tmp_path: Path, document: str) -> None:
    with pytest.raises(ConfigurationError):
        load_credentials(write(tmp_path / "c.json", document))


def test_a_credential_twice_or_eleven_are_refused(tmp_path: Path) -> None:
    entry = {"access_key_id": OLD.access_key_id, "secret_access_key": OLD.secret()}
    with pytest.raises(ConfigurationError, match="twice"):
        load_credentials(write(tmp_path / "c.json", json.dumps({"credentials": [entry] * 2})))
    many = [
        {"access_key_id": c.access_key_id, "secret_access_key": c.secret()}
        for c in (new_credential() for _ in range(11))
    ]
    with pytest.raises(ConfigurationError, match="1 to 10"):
        load_credentials(write(tmp_path / "c.json", json.dumps({"credentials": many})))


def test_a_world_readable_credentials_file_is_refused(tmp_path: Path) -> None:
    entry = {"access_key_id": OLD.access_key_id, "secret_access_key": OLD.secret()}
    path = write(tmp_path / "c.json", json.dumps({"credentials": [entry]}), mode=0o644)
    with pytest.raises(ConfigurationError, match="every user") as caught:
        load_credentials(path)
    assert OLD.secret() not in str(caught.value)
    path.chmod(0o640)
    assert load_credentials(path) == (OLD,)


def test_a_parse_error_does_not_echo_the_file(tmp_path: Path) -> None:
    path = write(tmp_path / "c.toml", f'secret = "{OLD.secret()}\n')
    with pytest.raises(ConfigurationError) as caught:
        load_credentials(path)
    assert OLD.secret() not in str(caught.value)
