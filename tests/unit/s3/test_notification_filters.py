"""RGW's ``S3Metadata`` and ``S3Tags`` notification filters (decision 0132, increment 3) in
process: the filters as the configuration takes, refuses and shows them back in RGW's shape,
and the events they let through or hold back (in the memory store's outbox)."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from support.s3app import Client, in_process_client

B = "/watched"


def md5_header(body: bytes) -> dict[str, str]:
    digest = hashlib.md5(body, usedforsecurity=False).digest()
    return {"Content-MD5": base64.b64encode(digest).decode()}


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[Client]:
    async with in_process_client(tmp_path) as made:
        assert (await made.request("PUT", B)).status == 200
        yield made


@pytest.fixture
async def arn(client: Client) -> str:
    assert client.topics is not None
    made = await client.topics.create_topic(
        client.tenant_id, "events", {"push-endpoint": "http://127.0.0.1:9/hook"}
    )
    return made.arn


def pairs(container: str, *rules: tuple[str, str]) -> str:
    inner = "".join(
        f"<FilterRule><Name>{n}</Name><Value>{v}</Value></FilterRule>" for n, v in rules
    )
    return f"<{container}>{inner}</{container}>"


def rule(arn: str, filters: str, *events: str, rule_id: str = "r1") -> str:
    kinds = "".join(f"<Event>{e}</Event>" for e in events or ("s3:ObjectCreated:*",))
    return (
        f"<TopicConfiguration><Id>{rule_id}</Id><Topic>{arn}</Topic>{kinds}"
        f"<Filter>{filters}</Filter></TopicConfiguration>"
    )


async def configure(client: Client, *rules: str) -> Any:
    body = (
        "<NotificationConfiguration>" + "".join(rules) + "</NotificationConfiguration>"
    ).encode()
    return await client.request("PUT", f"{B}?notification", body, md5_header(body))


def queued(client: Client) -> list[dict[str, Any]]:
    assert client.store is not None
    return [r for _, _, m, _ in client.store.notification_outbox for r in json.loads(m)["Records"]]


async def test_the_filters_are_kept_and_shown_back_in_rgws_shape(client: Client, arn: str) -> None:
    filters = (
        pairs("S3Key", ("prefix", "img/"))
        + pairs("S3Metadata", ("x-amz-meta-color", "blue"), ("X-Amz-Meta-Size", "xl"))
        + pairs("S3Tags", ("team", "ops"))
    )
    assert (await configure(client, rule(arn, filters))).status == 200
    shown = (await client.request("GET", f"{B}?notification")).body.decode()
    assert (
        "<Filter><S3Key><FilterRule><Name>Prefix</Name><Value>img/</Value></FilterRule></S3Key>"
        "<S3Metadata><FilterRule><Name>x-amz-meta-color</Name><Value>blue</Value></FilterRule>"
        "<FilterRule><Name>X-Amz-Meta-Size</Name><Value>xl</Value></FilterRule></S3Metadata>"
        "<S3Tags><FilterRule><Name>team</Name><Value>ops</Value></FilterRule></S3Tags></Filter>"
    ) in shown
    # What GET shows is a configuration PUT takes again unchanged (the console puts rules
    # back as S3 answered them).
    again = shown.encode()
    assert (
        await client.request("PUT", f"{B}?notification", again, md5_header(again))
    ).status == 200
    assert (await client.request("GET", f"{B}?notification")).body.decode() == shown


async def test_a_tag_filter_alone_needs_no_key_filter(client: Client, arn: str) -> None:
    assert (await configure(client, rule(arn, pairs("S3Tags", ("team", "ops"))))).status == 200
    shown = (await client.request("GET", f"{B}?notification")).body.decode()
    assert "<Filter><S3Tags>" in shown and "S3Key" not in shown and "S3Metadata" not in shown


@pytest.mark.parametrize(
    ("filters", "events", "code", "message"),
    [
        (pairs("S3Metadata", ("color", "blue")), (), "InvalidArgument", "x-amz-meta-"),
        (pairs("S3Metadata", ("x-amz-meta-", "blue")), (), "InvalidArgument", "x-amz-meta-"),
        (
            pairs("S3Metadata", ("x-amz-meta-color", "blue"), ("X-AMZ-META-COLOR", "red")),
            (),
            "InvalidArgument",
            "more than one rule for a name",
        ),
        (
            pairs("S3Tags", ("team", "ops"), ("team", "dev")),
            (),
            "InvalidArgument",
            "more than one rule for a name",
        ),
        (
            pairs("S3Tags", ("team", "ops")),
            ("s3:ObjectCreated:*", "s3:ObjectRemoved:*"),
            "InvalidArgument",
            "s3:ObjectRemoved:Delete",
        ),
        (
            pairs("S3Metadata", ("x-amz-meta-c", "v")),
            ("s3:LifecycleExpiration:Delete",),
            "InvalidArgument",
            "removed object",
        ),
        ("<S3Tags><FilterRule><Name>team</Name></FilterRule></S3Tags>", (), "MalformedXML", None),
        ("<S3Tags><FilterRule><Value>ops</Value></FilterRule></S3Tags>", (), "MalformedXML", None),
        ("<S3Attributes/>", (), "MalformedXML", None),
        ("", (), "MalformedXML", None),
        (
            "<S3Tags><FilterRule><Name>team</Name><Value>ops</Value><Type>OUT</Type>"
            "</FilterRule></S3Tags>",
            (),
            "NotImplemented",
            "Type IN",
        ),
        (pairs("S3Tags", ("team", "x" * 1025)), (), "InvalidArgument", "too long"),
        # RGW's regex key rule is not taken: S3's words for a name other than prefix/suffix.
        (pairs("S3Key", ("regex", "a.*")), (), "InvalidArgument", "either prefix or suffix"),
    ],
)
async def test_filters_refused_leave_nothing(
    client: Client,
    arn: str,
    filters: str,
    events: tuple[str, ...],
    code: str,
    message: str | None,
) -> None:
    reply = await configure(client, rule(arn, filters, *events))
    assert reply.error_code() == code, reply.body
    assert reply.status == (501 if code == "NotImplemented" else 400)
    if message is not None:
        assert message in reply.body.decode()
    assert b"TopicConfiguration" not in (await client.request("GET", f"{B}?notification")).body


async def test_type_in_is_taken(client: Client, arn: str) -> None:
    filters = (
        "<S3Tags><FilterRule><Name>team</Name><Value>ops</Value><Type>IN</Type>"
        "</FilterRule></S3Tags>"
    )
    assert (await configure(client, rule(arn, filters))).status == 200


async def test_rules_told_apart_by_a_tags_value_do_not_overlap(client: Client, arn: str) -> None:
    ops = rule(arn, pairs("S3Tags", ("team", "ops")))
    dev = rule(arn, pairs("S3Tags", ("team", "dev")), rule_id="r2")
    assert (await configure(client, ops, dev)).status == 200
    anyone = rule(arn, pairs("S3Tags", ("env", "prod")), rule_id="r3")
    reply = await configure(client, ops, anyone)
    assert reply.error_code() == "InvalidArgument"
    assert "ambiguously defined" in reply.body.decode()


async def test_puts_and_copies_are_queued_only_with_every_pair(client: Client, arn: str) -> None:
    filters = pairs("S3Metadata", ("x-amz-meta-color", "blue")) + pairs("S3Tags", ("team", "ops"))
    assert (await configure(client, rule(arn, filters))).status == 200
    both = {"x-amz-meta-color": "blue", "x-amz-meta-other": "x", "x-amz-tagging": "team=ops&a=b"}
    writes = {
        "match": both,
        "wrong-color": {**both, "x-amz-meta-color": "red"},
        "no-tags": {"x-amz-meta-color": "blue"},
        "no-metadata": {"x-amz-tagging": "team=ops"},
    }
    for key, headers in writes.items():
        assert (await client.request("PUT", f"{B}/{key}", b"data", headers)).status == 200
    # A copy keeps the source's metadata and tags (COPY directives): queued; one replacing the
    # metadata with another colour is not.
    kept = await client.request("PUT", f"{B}/copy", b"", {"x-amz-copy-source": f"{B}/match"})
    assert kept.status == 200, kept.body
    replaced = await client.request(
        "PUT",
        f"{B}/recoloured",
        b"",
        {
            "x-amz-copy-source": f"{B}/match",
            "x-amz-metadata-directive": "REPLACE",
            "x-amz-meta-color": "green",
        },
    )
    assert replaced.status == 200, replaced.body
    assert [(e["eventName"], e["s3"]["object"]["key"]) for e in queued(client)] == [
        ("ObjectCreated:Put", "match"),
        ("ObjectCreated:Copy", "copy"),
    ]


async def test_a_completed_multipart_upload_is_filtered_on_its_metadata(
    client: Client, arn: str
) -> None:
    filters = pairs("S3Metadata", ("x-amz-meta-color", "blue"))
    assert (await configure(client, rule(arn, filters))).status == 200
    for key, colour in (("blue", "blue"), ("red", "red")):
        created = await client.request(
            "POST", f"{B}/{key}?uploads", b"", {"x-amz-meta-color": colour}
        )
        upload_id = created.body.decode().split("<UploadId>")[1].split("</UploadId>")[0]
        part = await client.request("PUT", f"{B}/{key}?partNumber=1&uploadId={upload_id}", b"x")
        done = (
            "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber>"
            f"<ETag>{part.headers['etag']}</ETag></Part></CompleteMultipartUpload>"
        ).encode()
        completed = await client.request("POST", f"{B}/{key}?uploadId={upload_id}", done)
        assert completed.status == 200, completed.body
    assert [(e["eventName"], e["s3"]["object"]["key"]) for e in queued(client)] == [
        ("ObjectCreated:CompleteMultipartUpload", "blue")
    ]


async def test_a_tagging_is_filtered_on_the_tags_it_leaves(client: Client, arn: str) -> None:
    filters = pairs("S3Tags", ("team", "ops"))
    assert (await configure(client, rule(arn, filters, "s3:ObjectTagging:*"))).status == 200
    assert (
        await client.request("PUT", f"{B}/k", b"data", {"x-amz-tagging": "team=ops"})
    ).status == 200
    dev = b"<Tagging><TagSet><Tag><Key>team</Key><Value>dev</Value></Tag></TagSet></Tagging>"
    ops = dev.replace(b"dev", b"ops")
    # From ops to dev: the object no longer carries team=ops, no event.
    assert (await client.request("PUT", f"{B}/k?tagging", dev, md5_header(dev))).status == 200
    assert queued(client) == []
    # Back to ops: an event.
    assert (await client.request("PUT", f"{B}/k?tagging", ops, md5_header(ops))).status == 200
    assert [e["eventName"] for e in queued(client)] == ["ObjectTagging:Put"]


async def test_an_acl_change_is_filtered_on_the_objects_metadata(client: Client, arn: str) -> None:
    filters = pairs("S3Metadata", ("x-amz-meta-color", "blue"))
    assert (await configure(client, rule(arn, filters, "s3:ObjectAcl:Put"))).status == 200
    # Buckets are made with ACLs disabled and public ACLs blocked, as on S3.
    for query, body in (
        (
            "ownershipControls",
            b"<OwnershipControls><Rule><ObjectOwnership>ObjectWriter</ObjectOwnership></Rule>"
            b"</OwnershipControls>",
        ),
        (
            "publicAccessBlock",
            b"<PublicAccessBlockConfiguration><BlockPublicAcls>false</BlockPublicAcls>"
            b"<IgnorePublicAcls>false</IgnorePublicAcls></PublicAccessBlockConfiguration>",
        ),
    ):
        reply = await client.request("PUT", f"{B}?{query}", body, md5_header(body))
        assert reply.status == 200, reply.body
    for key, colour in (("blue", "blue"), ("red", "red")):
        headers = {"x-amz-meta-color": colour}
        assert (await client.request("PUT", f"{B}/{key}", b"data", headers)).status == 200
        acl = {"x-amz-acl": "public-read"}
        changed = await client.request("PUT", f"{B}/{key}?acl", b"", acl)
        assert changed.status == 200, changed.body
    assert [(e["eventName"], e["s3"]["object"]["key"]) for e in queued(client)] == [
        ("ObjectAcl:Put", "blue")
    ]
