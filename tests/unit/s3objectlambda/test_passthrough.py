"""What an Object Lambda access point does not transform (decision 0399): the supporting
access point answers it as the caller, once the Object Lambda access point's policy and the
caller's allow its ``s3-object-lambda:`` action; the operations AWS names no such action for
are refused; the access point's alias ``…--ol-s3`` works as a bucket name on the S3 API,
signed for ``s3``, transformed operations included."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from andromede.http.ratelimit import RateLimiter
from andromede.s3objectlambda.app import FunctionOutcome
from andromede.s3objectlambda.passthrough import object_lambda_action
from s3objectlambda.test_object_lambda_app import World, fetch_input, signed, world, write_response
from support.s3app import REGION

__all__ = ["world"]  # the fixture, shared with the app's tests


def test_actions_follow_aws_reference() -> None:
    assert object_lambda_action("PutObject", {}) == "s3-object-lambda:PutObject"
    assert object_lambda_action("UploadPart", {}) == "s3-object-lambda:PutObject"
    assert object_lambda_action("GetObjectTagging", {"versionId": "v1"}) == (
        "s3-object-lambda:GetObjectVersionTagging"
    )
    assert object_lambda_action("ListParts", {}) == "s3-object-lambda:ListMultipartUploadParts"
    assert object_lambda_action("DeleteObjects", {}) == "s3-object-lambda:DeleteObject"
    assert object_lambda_action("SelectObjectContent", {}) is None
    assert object_lambda_action("PutBucketPolicy", {}) is None


async def test_untransformed_operations_reach_the_supporting_access_point(world: World) -> None:
    credentials = world.s3.credentials
    assert credentials is not None
    put = await signed(world.app, credentials, "PUT", world.host, "/new.txt", b"fresh bytes")
    assert put.status == 200, put.body
    # Written to the supporting access point's bucket, as the caller.
    stored = await world.s3.request("GET", "/data-bucket/new.txt")
    assert (stored.status, stored.body) == (200, b"fresh bytes")
    tagging = b"<Tagging><TagSet><Tag><Key>k</Key><Value>v</Value></Tag></TagSet></Tagging>"
    md5 = base64.b64encode(hashlib.md5(tagging).digest()).decode()  # noqa: S324 — S3's header
    tagged = await signed(world.app, credentials, "PUT", world.host, "/new.txt?tagging",
        tagging, {"Content-MD5": md5})  # fmt: skip
    assert tagged.status == 200, tagged.body
    tags = await signed(world.app, credentials, "GET", world.host, "/new.txt?tagging")
    assert tags.status == 200 and b"<Key>k</Key>" in tags.body
    # HeadObject is not transformed by this configuration (GetObject only): passed through.
    head = await signed(world.app, credentials, "HEAD", world.host, "/new.txt")
    assert head.status == 200 and head.headers["content-length"] == "11"
    bucket = await signed(world.app, credentials, "HEAD", world.host, "/")
    assert bucket.status == 200
    gone = await signed(world.app, credentials, "DELETE", world.host, "/new.txt")
    assert gone.status == 204, gone.body
    assert (await world.s3.request("GET", "/data-bucket/new.txt")).status == 404
    # SelectObjectContent is not served through an Object Lambda access point (AWS).
    select = await signed(world.app, credentials, "POST", world.host,
        "/notes.txt?select&select-type=2", b"<SelectObjectContentRequest/>")  # fmt: skip
    assert select.status == 400 and b"<Code>InvalidRequest</Code>" in select.body
    assert world.events == []  # no function ran


async def test_the_object_lambda_access_points_policy_judges_a_pass_through(
    world: World,
) -> None:
    account = world.s3.tenant_id
    arn = f"arn:aws:s3-object-lambda:{REGION}:{account}:accesspoint/upper"
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Deny",
                "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                "Action": "s3-object-lambda:PutObject",
                "Resource": arn,
            }
        ],
    }
    await world.points.set_policy(account, "upper", json.dumps(policy))
    credentials = world.s3.credentials
    assert credentials is not None
    put = await signed(world.app, credentials, "PUT", world.host, "/denied.txt", b"no")
    assert put.status == 403 and b"<Code>AccessDenied</Code>" in put.body
    assert (await world.s3.request("GET", "/data-bucket/denied.txt")).status == 404
    tags = await signed(world.app, credentials, "GET", world.host, "/notes.txt?tagging")
    assert tags.status == 200  # another action: not denied


async def test_the_alias_is_a_bucket_name_on_the_s3_api(world: World) -> None:
    async def upper(event: dict[str, Any]) -> FunctionOutcome:
        original = await fetch_input(world, event["getObjectContext"]["inputS3Url"])
        assert (await write_response(world, event, original.body.upper())).status == 200
        return FunctionOutcome(ok=True)

    world.handler.append(upper)
    # Signed for s3 and sent to the S3 API, path-style and virtual-hosted, as any bucket.
    got = await world.s3.request("GET", "/upper-x--ol-s3/notes.txt")
    assert (got.status, got.body) == (200, b"HELLO OBJECT"), got.body
    hosted = await world.s3.request("GET", "/notes.txt", host="upper-x--ol-s3.s3.localhost")
    assert (hosted.status, hosted.body) == (200, b"HELLO OBJECT"), hosted.body
    listed = await world.s3.request("GET", "/upper-x--ol-s3?list-type=2")
    assert listed.status == 200 and b"<Key>notes.txt</Key>" in listed.body
    unknown = await world.s3.request("GET", "/nobody-abc--ol-s3/notes.txt")
    assert unknown.status == 400
    assert b"<Code>InvalidAccessPointAliasError</Code>" in unknown.body


async def test_a_passed_through_request_takes_one_token(world: World) -> None:
    """Decision 0411: the Object Lambda API's rate limit takes the request's token; the S3
    API it hands the verified request to does not take a second (0399 counted it twice)."""
    limiter = RateLimiter(2, clock=lambda: 0.0)  # two tokens, never refilled
    # Both APIs share one, as the gateway's do.
    world.s3.app._rate_limiter = world.app._rate_limiter = limiter
    app = world.app
    credentials = world.s3.credentials
    assert credentials is not None
    for _ in range(2):
        assert (await signed(app, credentials, "HEAD", world.host, "/notes.txt")).status == 200
    assert (await signed(app, credentials, "HEAD", world.host, "/notes.txt")).status == 503
