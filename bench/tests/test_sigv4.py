"""The bench's cut-down signer agrees with botocore's SigV4 for the requests the bench sends."""

from __future__ import annotations

import calendar
import time

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotoCredentials

from bench.sigv4 import Credentials, Signer, canonical_query

HOST = "127.0.0.1:9000"


def _botocore_headers(method: str, path: str, query: str, region: str) -> dict[str, str]:
    url = f"http://{HOST}{path}" + (f"?{query}" if query else "")
    request = AWSRequest(
        method=method, url=url, headers={"X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD"}
    )
    SigV4Auth(BotoCredentials("AKIDEXAMPLE", "secret/key+example"), "s3", region).add_auth(request)
    return {name.lower(): value for name, value in request.headers.items()}


@pytest.mark.parametrize(
    ("method", "path", "params", "region"),
    [
        ("PUT", "/bench/4096/0/00000001", {}, "eu-fr-1"),
        ("GET", "/bench/67108864/2/00000007", {}, "us-east-1"),
        ("GET", "/bench-list", {"list-type": "2", "max-keys": "1000"}, "eu-fr-1"),
        ("GET", "/", {}, "us-east-1"),
    ],
)
def test_signature_matches_botocore(
    method: str, path: str, params: dict[str, str], region: str
) -> None:
    query = canonical_query(params)
    expected = _botocore_headers(method, path, query, region)
    stamp = calendar.timegm(time.strptime(expected["x-amz-date"], "%Y%m%dT%H%M%SZ"))
    signer = Signer(
        Credentials("AKIDEXAMPLE", "secret/key+example", region), HOST, clock=lambda: stamp
    )
    lines = signer.headers(method, path, query).split("\r\n")
    ours = {
        name.lower(): value for name, _, value in (line.partition(": ") for line in lines if line)
    }
    assert ours["x-amz-date"] == expected["x-amz-date"]
    assert ours["authorization"] == expected["authorization"]


def test_signing_key_follows_the_utc_day() -> None:
    now = [calendar.timegm((2026, 11, 29, 23, 59, 59))]
    signer = Signer(Credentials("AK", "SK", "eu-fr-1"), HOST, clock=lambda: now[0])
    before = signer.headers("GET", "/")
    now[0] += 2
    after = signer.headers("GET", "/")
    assert "/20261129/eu-fr-1/s3/aws4_request" in before
    assert "/20261130/eu-fr-1/s3/aws4_request" in after
