"""Decision 0312's pure part: the payload format 2.0 event a function URL request makes, the
HTTP answer read from a function's result as AWS reads it, and CORS (preflight and the
headers of an answer)."""

from __future__ import annotations

import base64
import json

from andromede.functions.url_configs import UrlCors
from andromede.functions.url_events import (
    UrlRequest,
    cors_headers,
    is_preflight,
    preflight,
    request_event,
    response_of,
)

URL_ID = "a" * 32
HOST = f"{URL_ID}.lambda-url.eu-fr-1.localhost"


def request(**given: object) -> UrlRequest:
    fields: dict[str, object] = {
        "method": "POST",
        "raw_path": "/some/p%C3%A4th",
        "raw_query": "a=1&a=2&b=",
        "headers": (
            ("Host", HOST),
            ("Content-Type", "application/json"),
            ("X-Many", "one"),
            ("x-many", "two"),
            ("Cookie", "s=1; t=2"),
            ("User-Agent", "tests/1.0"),
        ),
        "body": b'{"k": "v"}',
        "source_ip": "192.0.2.7",
        "protocol": "HTTP/1.1",
        "url_id": URL_ID,
        "host": HOST,
    }
    fields.update(given)
    return UrlRequest(**fields)  # type: ignore[arg-type]


def test_the_event_is_payload_format_2() -> None:
    event = request_event(
        request(), account_id="anonymous", request_id="rid", now_ms=1_700_000_000_123
    )
    assert event["version"] == "2.0" and event["routeKey"] == "$default"
    assert event["rawPath"] == "/some/p%C3%A4th"
    assert event["rawQueryString"] == "a=1&a=2&b="
    assert event["queryStringParameters"] == {"a": "1,2", "b": ""}
    assert event["cookies"] == ["s=1", "t=2"]
    assert "cookie" not in event["headers"]
    assert event["headers"]["x-many"] == "one,two"
    assert event["headers"]["content-type"] == "application/json"
    assert event["body"] == '{"k": "v"}' and event["isBase64Encoded"] is False
    context = event["requestContext"]
    assert context["accountId"] == "anonymous"
    assert context["apiId"] == context["domainPrefix"] == URL_ID
    assert context["domainName"] == HOST
    assert context["http"] == {
        "method": "POST",
        "path": "/some/päth",
        "protocol": "HTTP/1.1",
        "sourceIp": "192.0.2.7",
        "userAgent": "tests/1.0",
    }
    assert context["requestId"] == "rid"
    assert context["routeKey"] == context["stage"] == "$default"
    assert context["time"] == "14/Nov/2023:22:13:20 +0000"
    assert context["timeEpoch"] == 1_700_000_000_123
    assert "authorizer" not in context


def test_binary_bodies_are_base64_and_empty_parts_are_left_out() -> None:
    binary = request(
        headers=(("Content-Type", "application/octet-stream"),), body=b"\x00\xff", raw_query=""
    )
    event = request_event(binary, account_id="1", request_id="r", now_ms=0, iam={"userArn": "u"})
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == b"\x00\xff"
    assert "queryStringParameters" not in event and "cookies" not in event
    assert event["requestContext"]["authorizer"] == {"iam": {"userArn": "u"}}
    bad_text = request(headers=(("Content-Type", "text/plain"),), body=b"\xff")
    assert request_event(bad_text, account_id="1", request_id="r", now_ms=0)["isBase64Encoded"]
    empty = request_event(request(body=b"", method="GET"), account_id="1", request_id="r", now_ms=0)
    assert "body" not in empty and empty["isBase64Encoded"] is False


def test_a_response_object_is_read_as_aws_reads_it() -> None:
    answer = response_of(
        json.dumps(
            {
                "statusCode": 201,
                "headers": {"X-Made": "yes", "Content-Type": "text/plain"},
                "cookies": ["a=1; Path=/", "b=2"],
                "body": "made",
            }
        ).encode()
    )
    assert answer.status == 201 and answer.body == b"made"
    assert ("X-Made", "yes") in answer.headers and ("Content-Type", "text/plain") in answer.headers
    assert [v for n, v in answer.headers if n == "Set-Cookie"] == ["a=1; Path=/", "b=2"]
    binary = response_of(b'{"statusCode": 200, "body": "AP8=", "isBase64Encoded": true}')
    assert binary.body == b"\x00\xff" and ("Content-Type", "application/json") in binary.headers


def test_any_other_json_is_a_200_json_answer() -> None:
    plain = response_of(b'{"message": "hi"}')
    assert (plain.status, plain.body) == (200, b'{"message": "hi"}')
    assert plain.headers == [("Content-Type", "application/json")]
    assert response_of(b'"Hello (world)"').body == b"Hello (world)"
    assert response_of(b"[1, 2]").body == b"[1, 2]"


def test_a_malformed_response_is_a_502() -> None:
    for payload in (
        b'{"statusCode": "two hundred"}',
        b'{"statusCode": 99}',
        b'{"statusCode": 200, "body": {"not": "a string"}}',
        b'{"statusCode": 200, "body": "%%%", "isBase64Encoded": true}',
        b"not json",
    ):
        answer = response_of(payload)
        assert answer.status == 502, payload
        assert json.loads(answer.body) == {"Message": "Internal Server Error"}


CORS = UrlCors(
    allow_credentials=True,
    allow_headers=("x-custom",),
    allow_methods=("GET", "POST"),
    allow_origins=("https://app.example",),
    expose_headers=("x-made",),
    max_age=600,
)


def test_a_preflight_is_answered_from_the_configuration() -> None:
    wanted = {"origin": "https://app.example", "access-control-request-method": "POST"}
    assert is_preflight(CORS, "OPTIONS", wanted)
    assert not is_preflight(None, "OPTIONS", wanted)
    assert not is_preflight(CORS, "OPTIONS", {"origin": "https://app.example"})
    answer = dict(preflight(CORS, wanted).headers)
    assert answer["Access-Control-Allow-Origin"] == "https://app.example"
    assert answer["Access-Control-Allow-Methods"] == "GET,POST"
    assert answer["Access-Control-Allow-Headers"] == "x-custom"
    assert answer["Access-Control-Allow-Credentials"] == "true"
    assert answer["Access-Control-Max-Age"] == "600"
    stranger = preflight(CORS, {**wanted, "origin": "https://evil.example"})
    assert stranger.status == 200 and stranger.headers == []
    not_allowed = preflight(CORS, {**wanted, "access-control-request-method": "DELETE"})
    assert not_allowed.headers == []


def test_an_answer_carries_the_cors_headers_of_an_allowed_origin() -> None:
    headers = dict(cors_headers(CORS, "https://app.example"))
    assert headers["Access-Control-Allow-Origin"] == "https://app.example"
    assert headers["Access-Control-Expose-Headers"] == "x-made"
    assert cors_headers(CORS, "https://evil.example") == []
    assert cors_headers(CORS, None) == [] and cors_headers(None, "https://app.example") == []
    anyone = UrlCors(allow_origins=("*",))
    assert dict(cors_headers(anyone, "https://x.example")) == {"Access-Control-Allow-Origin": "*"}
