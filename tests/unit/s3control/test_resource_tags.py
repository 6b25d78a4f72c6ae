"""S3 Control's resource tags (decision 0392), the pure part: the TagResource document, the
untag keys, AWS's limits and errors, and which ARNs name what."""

from __future__ import annotations

import pytest

from andromede.s3control.errors import S3ControlError
from andromede.s3control.operations import S3ControlOperation as O
from andromede.s3control.operations import route
from andromede.s3control.resource_tags import (
    merged,
    parse_tag_resource,
    parse_untag_keys,
    resource_of,
    tagged_resource,
    without,
)

NS = "http://awss3control.amazonaws.com/doc/2018-08-20/"
ACCOUNT = "111111111111"


def document(*tags: tuple[str, str]) -> bytes:
    inner = "".join(f"<Tag><Key>{k}</Key><Value>{v}</Value></Tag>" for k, v in tags)
    return f'<TagResourceRequest xmlns="{NS}"><Tags>{inner}</Tags></TagResourceRequest>'.encode()


def code(caught: pytest.ExceptionInfo[S3ControlError]) -> tuple[str, int]:
    return caught.value.code, caught.value.status


def test_a_tag_resource_document() -> None:
    assert parse_tag_resource(document(("team", "blue"), ("cost centre", "é 42"))) == (
        ("team", "blue"),
        ("cost centre", "é 42"),
    )
    assert parse_tag_resource(document(("empty", ""))) == (("empty", ""),)


@pytest.mark.parametrize(
    "tags",
    [
        (("", "v"),),
        (("k" * 129, "v"),),
        (("k", "v" * 257),),
        (("aws:owner", "v"),),
        (("AWS:owner", "v"),),
        (("k#", "v"),),
        (
            (
                "k",
                "v",
            ),
            ("k", "w"),
        ),
    ],
)
def test_invalid_tags_are_refused(tags: tuple[tuple[str, str], ...]) -> None:
    with pytest.raises(S3ControlError) as caught:
        parse_tag_resource(document(*tags))
    assert code(caught) == ("InvalidTagError", 400)


def test_the_longest_key_and_value_pass() -> None:
    assert parse_tag_resource(document(("k" * 128, "v" * 256)))[0] == ("k" * 128, "v" * 256)


def test_at_most_fifty_tags() -> None:
    fifty = tuple((f"k{i}", "v") for i in range(50))
    assert len(parse_tag_resource(document(*fifty))) == 50
    with pytest.raises(S3ControlError) as caught:
        parse_tag_resource(document(*fifty, ("k50", "v")))
    assert code(caught) == ("TooManyTagsException", 400)
    # Once merged with the tags the resource has: a new key past 50 is refused, a key it has
    # is replaced.
    assert dict(merged(fifty, (("k0", "new"),)))["k0"] == "new"
    with pytest.raises(S3ControlError) as caught:
        merged(fifty, (("another", "v"),))
    assert code(caught) == ("TooManyTagsException", 400)


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"<TagResourceRequest><Tags><Tag><Value>v</Value></Tag></Tags></TagResourceRequest>",
        b"<Other><Tags/></Other>",
        b"<TagResourceRequest/>",
        b"<TagResourceRequest><Tags><Tag><Key>k</Key><Nope/></Tag></Tags></TagResourceRequest>",
        b"not xml",
    ],
)
def test_malformed_documents(body: bytes) -> None:
    with pytest.raises(S3ControlError) as caught:
        parse_tag_resource(body)
    assert code(caught) == ("MalformedXML", 400)


def test_untag_keys_and_removal() -> None:
    assert parse_untag_keys("tagKeys=a&tagKeys=b%20c") == ("a", "b c")
    with pytest.raises(S3ControlError) as caught:
        parse_untag_keys("")
    assert code(caught) == ("InvalidRequest", 400)
    assert without((("a", "1"), ("b", "2")), ("a", "z")) == (("b", "2"),)


def test_the_tagging_paths() -> None:
    arn = f"arn:aws:s3:eu-fr-1:{ACCOUNT}:accesspoint/app"
    for method, operation in (
        ("POST", O.TagResource),
        ("DELETE", O.UntagResource),
        ("GET", O.ListTagsForResource),
    ):
        assert route(method, f"/v20180820/tags/{arn}") is operation
    assert route("PUT", f"/v20180820/tags/{arn}") is O.Unknown
    assert route("GET", "/v20180820/tags/") is O.Unknown
    assert resource_of(f"/v20180820/tags/{arn}") == arn
    assert resource_of("/v20180820/accesspoint/app") == ""


def test_what_an_arn_names() -> None:
    point = tagged_resource(f"arn:aws:s3:eu-fr-1:{ACCOUNT}:accesspoint/app", ACCOUNT, "eu-fr-1")
    assert (point.access_point, point.bucket) == ("app", None)
    bucket = tagged_resource("arn:aws:s3:::my-bucket", ACCOUNT, "eu-fr-1")
    assert (bucket.access_point, bucket.bucket) == (None, "my-bucket")
    cases = [
        ("arn:aws:s3:eu-fr-1:222222222222:accesspoint/app", ("AccessDenied", 403)),
        (f"arn:aws:s3:eu-de-1:{ACCOUNT}:accesspoint/app", ("NoSuchAccessPoint", 404)),
        (f"arn:aws:s3:eu-fr-1:{ACCOUNT}:storage-lens-group/g", ("NotImplemented", 501)),
        ("arn:aws:s3:::Not_A_Bucket", ("InvalidRequest", 400)),
        ("arn:aws:sqs:eu-fr-1:111111111111:q", ("InvalidRequest", 400)),
    ]
    for arn, expected in cases:
        with pytest.raises(S3ControlError) as caught:
            tagged_resource(arn, ACCOUNT, "eu-fr-1")
        assert code(caught) == expected, arn
