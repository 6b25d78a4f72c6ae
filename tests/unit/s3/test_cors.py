"""CORS in process (decision 0077): Get/Put/DeleteBucketCors and their checks, the preflight
a browser sends unsigned, and the headers a cross-origin request's answer carries. The origin
patterns follow the cases of Ceph's s3-tests (``test_cors_origin_response``)."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from andromede.storage.cors import pattern_matches
from support.s3app import Client, Reply, in_process_client

B = "/site"


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[Client]:
    async with in_process_client(tmp_path) as made:
        assert (await made.request("PUT", B)).status == 200
        assert (await made.request("PUT", f"{B}/page.html", b"<p>hi</p>")).status == 200
        yield made


def rule(
    methods: list[str],
    origins: list[str],
    headers: list[str] | None = None,
    expose: list[str] | None = None,
    max_age: int | None = None,
    rule_id: str | None = None,
) -> str:
    parts = [f"<ID>{rule_id}</ID>"] if rule_id else []
    parts += [f"<AllowedHeader>{h}</AllowedHeader>" for h in headers or []]
    parts += [f"<AllowedMethod>{m}</AllowedMethod>" for m in methods]
    parts += [f"<AllowedOrigin>{o}</AllowedOrigin>" for o in origins]
    parts += [f"<ExposeHeader>{h}</ExposeHeader>" for h in expose or []]
    if max_age is not None:
        parts.append(f"<MaxAgeSeconds>{max_age}</MaxAgeSeconds>")
    return "<CORSRule>" + "".join(parts) + "</CORSRule>"


async def put_cors(client: Client, *rules: str, md5: bool = True) -> Reply:
    body = f"<CORSConfiguration>{''.join(rules)}</CORSConfiguration>".encode()
    headers = {}
    if md5:
        digest = hashlib.md5(body, usedforsecurity=False).digest()
        headers["Content-MD5"] = base64.b64encode(digest).decode()
    return await client.request("PUT", f"{B}?cors", body, headers)


async def preflight(
    client: Client, origin: str | None, method: str | None, headers: str | None = None
) -> Reply:
    sent = {}
    if origin is not None:
        sent["Origin"] = origin
    if method is not None:
        sent["Access-Control-Request-Method"] = method
    if headers is not None:
        sent["Access-Control-Request-Headers"] = headers
    # Browsers never sign a preflight.
    return await client.request("OPTIONS", f"{B}/page.html", headers=sent, sign=False)


def test_patterns_hold_one_wildcard_for_any_run() -> None:
    assert pattern_matches("*", "https://anything")
    assert pattern_matches("*suffix", "foo.suffix") and not pattern_matches("*suffix", "x.bar")
    assert pattern_matches("start*end", "startend") and pattern_matches("start*end", "start1end")
    assert not pattern_matches("start*end", "0start12end")
    assert not pattern_matches("abc*cba", "abcba")  # head and tail may not overlap
    assert pattern_matches("X-Amz-*", "x-amz-date", case_sensitive=False)
    assert not pattern_matches("https://a.example", "https://A.example")


async def test_rules_are_put_read_back_and_deleted(client: Client) -> None:
    missing = await client.request("GET", f"{B}?cors")
    assert (missing.status, missing.error_code()) == (404, "NoSuchCORSConfiguration")
    put = await put_cors(
        client,
        rule(["GET", "HEAD"], ["https://*.example.org"], ["*"], ["ETag"], 3000, "web"),
        rule(["PUT", "POST", "DELETE"], ["https://upload.example.org"]),
    )
    assert put.status == 200, put.body
    got = await client.request("GET", f"{B}?cors")
    assert got.status == 200
    body = got.body.decode()
    assert body.index("<ID>web</ID>") < body.index("<AllowedHeader>*</AllowedHeader>")
    for element in (
        "<AllowedMethod>HEAD</AllowedMethod>",
        "<AllowedOrigin>https://*.example.org</AllowedOrigin>",
        "<ExposeHeader>ETag</ExposeHeader>",
        "<MaxAgeSeconds>3000</MaxAgeSeconds>",
        "<AllowedOrigin>https://upload.example.org</AllowedOrigin>",
    ):
        assert element in body
    assert body.count("<CORSRule>") == 2
    assert (await client.request("DELETE", f"{B}?cors")).status == 204
    assert (await client.request("GET", f"{B}?cors")).status == 404


@pytest.mark.parametrize(
    ("rules", "code"),
    [
        ([], "MalformedXML"),
        ([rule([], ["*"])], "MalformedXML"),
        ([rule(["GET"], [])], "MalformedXML"),
        ([rule(["PATCH"], ["*"])], "InvalidRequest"),
        ([rule(["GET"], ["https://*.*.example"])], "InvalidRequest"),
        ([rule(["GET"], ["*"], ["x-*-*"])], "InvalidRequest"),
        ([rule(["GET"], ["*"], rule_id="x" * 256)], "InvalidArgument"),
        (
            [
                rule(["GET"], ["*"]).replace(
                    "</CORSRule>", "<MaxAgeSeconds>soon</MaxAgeSeconds></CORSRule>"
                )
            ],
            "MalformedXML",
        ),
        ([rule(["GET"], ["*"])] * 101, "InvalidRequest"),
    ],
)
async def test_bad_configurations_are_refused_and_change_nothing(
    client: Client, rules: list[str], code: str
) -> None:
    assert (await put_cors(client, rule(["GET"], ["https://kept.example"]))).status == 200
    reply = await put_cors(client, *rules)
    assert (reply.status, reply.error_code()) == (400, code)
    assert b"https://kept.example" in (await client.request("GET", f"{B}?cors")).body


async def test_the_number_of_rules_is_a_setting(tmp_path: Path) -> None:
    async with in_process_client(tmp_path, max_cors_rules=2) as small:
        assert (await small.request("PUT", B)).status == 200
        two = [rule(["GET"], ["https://a.example"]), rule(["PUT"], ["https://b.example"])]
        assert (await put_cors(small, *two)).status == 200
        three = await put_cors(small, *two, rule(["GET"], ["*"]))
        assert (three.status, three.error_code()) == (400, "InvalidRequest")
        assert b"at most 2 rules" in three.body


async def test_a_configuration_needs_its_integrity_header(client: Client) -> None:
    reply = await put_cors(client, rule(["GET"], ["*"]), md5=False)
    assert (reply.status, reply.error_code()) == (400, "InvalidRequest")


async def test_preflights_follow_the_first_rule_that_matches(client: Client) -> None:
    no_config = await preflight(client, "https://a.example", "GET")
    assert (no_config.status, no_config.error_code()) == (403, "AccessForbidden")
    await put_cors(
        client,
        rule(["GET"], ["*suffix"]),
        rule(["GET"], ["start*end"]),
        rule(["GET"], ["prefix*"]),
        rule(["PUT"], ["*.put"], ["x-amz-*", "Content-Type"], ["ETag", "x-amz-request-id"], 600),
    )
    cases = {
        ("foo.suffix", "GET"): 200,
        ("foo.bar", "GET"): 403,
        ("foo.suffix.get", "GET"): 403,
        ("startend", "GET"): 200,
        ("start1end", "GET"): 200,
        ("0start12end", "GET"): 403,
        ("prefix", "GET"): 200,
        ("prefix.suffix", "GET"): 200,
        ("bla.prefix", "GET"): 403,
        ("foo.suffix", "PUT"): 403,
        ("foo.put", "PUT"): 200,
        ("foo.put", "GET"): 403,
    }
    for (origin, method), status in cases.items():
        reply = await preflight(client, origin, method)
        assert reply.status == status, (origin, method, reply.body)
        if status == 200:
            assert reply.headers["access-control-allow-origin"] == origin
            assert reply.headers["access-control-allow-credentials"] == "true"
            assert reply.headers["access-control-allow-methods"] == method
            assert "Origin" in reply.headers["vary"]
        else:
            assert reply.error_code() == "AccessForbidden"
            assert "access-control-allow-origin" not in reply.headers
    allowed = await preflight(client, "foo.put", "PUT", "X-Amz-Date, content-type")
    assert allowed.status == 200
    assert allowed.headers["access-control-allow-headers"] == "X-Amz-Date, content-type"
    assert allowed.headers["access-control-expose-headers"] == "ETag, x-amz-request-id"
    assert allowed.headers["access-control-max-age"] == "600"
    # A header no rule allows refuses the preflight.
    assert (await preflight(client, "foo.put", "PUT", "x-amz-date, authorization")).status == 403


async def test_a_wildcard_origin_is_answered_as_a_wildcard(client: Client) -> None:
    await put_cors(client, rule(["GET", "HEAD"], ["*"]))
    reply = await preflight(client, "https://anyone.example", "GET")
    assert reply.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in reply.headers
    assert reply.headers["access-control-allow-methods"] == "GET, HEAD"


@pytest.mark.parametrize(
    ("origin", "method", "message"),
    [(None, "GET", b"Origin request header needed"), ("https://a.example", None, b"Method")],
)
async def test_an_incomplete_preflight_is_a_bad_request(
    client: Client, origin: str | None, method: str | None, message: bytes
) -> None:
    await put_cors(client, rule(["GET"], ["*"]))
    reply = await preflight(client, origin, method)
    assert (reply.status, reply.error_code()) == (400, "BadRequest")
    assert message in reply.body


async def test_a_preflights_headers_are_bounded_as_any_requests(client: Client) -> None:
    await put_cors(client, rule(["GET"], ["*"]))
    reply = await preflight(client, "https://a.example", "GET", "x-long," * 3000)
    assert (reply.status, reply.error_code()) == (400, "RequestHeaderSectionTooLarge")


async def test_a_preflight_of_a_missing_bucket(client: Client) -> None:
    reply = await client.request(
        "OPTIONS",
        "/nowhere/k",
        headers={"Origin": "https://a.example", "Access-Control-Request-Method": "GET"},
        sign=False,
    )
    assert (reply.status, reply.error_code()) == (404, "NoSuchBucket")


async def test_cross_origin_answers_carry_the_rules_headers_and_grant_nothing(
    client: Client,
) -> None:
    await put_cors(client, rule(["GET"], ["https://app.example"], expose=["ETag"]))
    origin = {"Origin": "https://app.example"}
    got = await client.request("GET", f"{B}/page.html", headers=origin)
    assert got.status == 200 and got.body == b"<p>hi</p>"
    assert got.headers["access-control-allow-origin"] == "https://app.example"
    assert got.headers["access-control-expose-headers"] == "ETag"
    # Another origin, or a method the rule does not list: no CORS headers, same answer.
    other = await client.request("GET", f"{B}/page.html", headers={"Origin": "https://evil"})
    assert other.status == 200 and "access-control-allow-origin" not in other.headers
    head = await client.request("HEAD", f"{B}/page.html", headers=origin)
    assert "access-control-allow-origin" not in head.headers
    # CORS never lets a caller in: an anonymous read is still refused, with the headers a
    # browser needs to show the page the refusal.
    anonymous = await client.as_anonymous().request(
        "GET", f"{B}/page.html", headers=origin, sign=False
    )
    assert (anonymous.status, anonymous.error_code()) == (403, "AccessDenied")
    assert anonymous.headers["access-control-allow-origin"] == "https://app.example"
    # Without an Origin, nothing is added.
    plain = await client.request("GET", f"{B}/page.html")
    assert "access-control-allow-origin" not in plain.headers and "vary" not in plain.headers
