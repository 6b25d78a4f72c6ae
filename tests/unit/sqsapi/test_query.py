"""SQS's Query protocol in process (decision 0173): the shapes walked against botocore's current
SQS model and the Query model botocore shipped while SQS spoke Query, the error catalogue
walked against the model's errors with their ``awsQueryError`` codes, every action through
botocore's own Query serializer and parser (batches' partial failures and errors included),
and raw form posts, a post to the queue's URL and a GET as scripts send them."""

from __future__ import annotations

import dataclasses
import gzip
import json
from pathlib import Path
from typing import Any

import botocore
import defusedxml.ElementTree

from andromede.settings import Settings
from andromede.sqsapi.actions import ACTIONS
from andromede.sqsapi.app import SqsApp
from andromede.sqsapi.errors import CATALOGUE
from andromede.sqsapi.query import NAMESPACE, answer_document, is_unsigned_query_call
from andromede.sqsapi.query_shapes import SHAPES, ListOf, MapOf, Scalar, Shape, Struct
from support.sqs_query import MODEL_DIR, QueryClient
from support.sqsapp import Harness
from unit.sqsapi.test_metering import sqs_requests_of

_KINDS = {
    "string": "string",
    "blob": "string",
    "integer": "integer",
    "long": "integer",
    "boolean": "boolean",
}


def _model(path: Path) -> dict[str, Any]:
    opened = gzip.open(path) if path.suffix == ".gz" else path.open("rb")
    with opened as stream:
        loaded: dict[str, Any] = json.load(stream)
    return loaded


CURRENT = _model(next((Path(botocore.__file__).parent / "data" / "sqs").glob("*/service-2.json*")))
QUERY = _model(MODEL_DIR / "sqs" / "2012-11-05" / "service-2.json")


def _names(shape: Shape, model: dict[str, Any], name: str) -> None:
    """``shape`` carries the members and kinds of the JSON model's ``name``."""
    found = model["shapes"][name]
    if isinstance(shape, Scalar):
        assert _KINDS[found["type"]] == shape.kind, name
    elif isinstance(shape, ListOf):
        assert found["type"] == "list", name
        _names(shape.member, model, found["member"]["shape"])
    elif isinstance(shape, MapOf):
        assert found["type"] == "map", name
        _names(shape.value, model, found["value"]["shape"])
    else:
        assert found["type"] == "structure", name
        assert {m.name for m in shape.members} == set(found["members"]), name
        for member in shape.members:
            _names(member.shape, model, found["members"][member.name]["shape"])


def _wire(shape: Shape, model: dict[str, Any], name: str) -> None:
    """``shape``'s Query names are those of the Query model's ``name``, member for member."""
    found = model["shapes"][name]
    if isinstance(shape, ListOf):
        _wire(shape.member, model, found["member"]["shape"])
    elif isinstance(shape, MapOf):
        assert found.get("flattened"), name
        assert (shape.key_name, shape.value_name) == (
            found["key"].get("locationName", "key"),
            found["value"].get("locationName", "value"),
        ), name
        _wire(shape.value, model, found["value"]["shape"])
    elif isinstance(shape, Struct):
        for member in shape.members:
            ref = found["members"].get(member.name)
            if ref is None:
                continue  # added since SQS left Query: checked by name against the JSON model
            target = model["shapes"][ref["shape"]]
            if target["type"] == "list":
                assert target.get("flattened") or ref.get("flattened"), (name, member.name)
                expected = target["member"].get("locationName") or member.name
            else:
                expected = ref.get("locationName") or target.get("locationName") or member.name
            assert member.wire == expected, (name, member.name)
            _wire(member.shape, model, ref["shape"])


def test_the_shapes_are_the_models() -> None:
    assert set(SHAPES) == set(ACTIONS) == set(CURRENT["operations"])
    for action, (given, result) in SHAPES.items():
        operation = CURRENT["operations"][action]
        _names(given, CURRENT, operation["input"]["shape"])
        if result is None:
            assert (
                "output" not in operation
                or not CURRENT["shapes"][operation["output"]["shape"]]["members"]
            ), action
        else:
            _names(result, CURRENT, operation["output"]["shape"])
        old = QUERY["operations"].get(action)
        if old is None:
            continue
        _wire(given, QUERY, old["input"]["shape"])
        assert (result is None) == ("output" not in old), action
        if result is not None:
            assert old["output"]["resultWrapper"] == f"{action}Result"
            _wire(result, QUERY, old["output"]["shape"])


# The awsQueryError trait of each of SQS's errors (code, status), as SQS's Smithy model gives
# it (AWS's SDKs carry it; botocore's older Query model had most as "error"); an error without
# one is answered under its own name with status 400.
QUERY_ERRORS = {
    "BatchEntryIdsNotDistinct": ("AWS.SimpleQueueService.BatchEntryIdsNotDistinct", 400),
    "BatchRequestTooLong": ("AWS.SimpleQueueService.BatchRequestTooLong", 400),
    "EmptyBatchRequest": ("AWS.SimpleQueueService.EmptyBatchRequest", 400),
    "InvalidAddress": ("InvalidAddress", 404),
    "InvalidAttributeName": ("InvalidAttributeName", 400),
    "InvalidAttributeValue": ("InvalidAttributeValue", 400),
    "InvalidBatchEntryId": ("AWS.SimpleQueueService.InvalidBatchEntryId", 400),
    "InvalidIdFormat": ("InvalidIdFormat", 400),
    "InvalidMessageContents": ("InvalidMessageContents", 400),
    "InvalidSecurity": ("InvalidSecurity", 403),
    "KmsAccessDenied": ("KMS.AccessDeniedException", 400),
    "KmsDisabled": ("KMS.DisabledException", 400),
    "KmsInvalidKeyUsage": ("KMS.InvalidKeyUsageException", 400),
    "KmsInvalidState": ("KMS.InvalidStateException", 400),
    "KmsNotFound": ("KMS.NotFoundException", 400),
    "KmsOptInRequired": ("KMS.OptInRequired", 403),
    "KmsThrottled": ("KMS.ThrottlingException", 400),
    "MessageNotInflight": ("AWS.SimpleQueueService.MessageNotInflight", 400),
    "OverLimit": ("OverLimit", 403),
    "PurgeQueueInProgress": ("AWS.SimpleQueueService.PurgeQueueInProgress", 403),
    "QueueDeletedRecently": ("AWS.SimpleQueueService.QueueDeletedRecently", 400),
    "QueueDoesNotExist": ("AWS.SimpleQueueService.NonExistentQueue", 400),
    "QueueNameExists": ("QueueAlreadyExists", 400),
    "ReceiptHandleIsInvalid": ("ReceiptHandleIsInvalid", 404),
    "RequestThrottled": ("RequestThrottled", 403),
    "ResourceNotFoundException": ("ResourceNotFoundException", 404),
    "TooManyEntriesInBatchRequest": ("AWS.SimpleQueueService.TooManyEntriesInBatchRequest", 400),
    "UnsupportedOperation": ("AWS.SimpleQueueService.UnsupportedOperation", 400),
}


def test_every_error_of_the_model_has_its_query_code() -> None:
    errors = {name for name, shape in CURRENT["shapes"].items() if shape.get("exception")}
    # A new error in botocore's model fails here until its code is recorded above and served.
    assert errors == set(QUERY_ERRORS)
    for name, (code, status) in QUERY_ERRORS.items():
        assert name in CATALOGUE, name
        assert (CATALOGUE[name][2], CATALOGUE[name][0]) == (code, status), name
    # The older Query model's codes agree, where it has them.
    for name, shape in QUERY["shapes"].items():
        if shape.get("exception") and "error" in shape:
            assert QUERY_ERRORS[name] == (shape["error"]["code"], shape["error"]["httpStatusCode"])


async def _queue(query: QueryClient, name: str = "q", **attributes: str) -> str:
    answer = await query.ok("CreateQueue", {"QueueName": name, "Attributes": attributes})
    return str(answer["QueueUrl"])


async def test_queues_attributes_tags_and_permissions(sqs: Harness) -> None:
    query = QueryClient(sqs)
    url = await _queue(query, VisibilityTimeout="10")
    assert url.endswith(f"/{sqs.tenant_id}/q")
    # The same attributes again: the same queue; others: QueueAlreadyExists.
    assert (await query.ok("CreateQueue", {"QueueName": "q", "Attributes": {}}))["QueueUrl"]
    assert (
        await query.error("CreateQueue", {"QueueName": "q", "Attributes": {"DelaySeconds": "5"}})
    ) == "QueueAlreadyExists"
    assert (await query.ok("GetQueueUrl", {"QueueName": "q"}))["QueueUrl"] == url
    assert (await query.ok("ListQueues", {"QueueNamePrefix": "q"}))["QueueUrls"] == [url]
    await query.ok("SetQueueAttributes", {"QueueUrl": url, "Attributes": {"DelaySeconds": "1"}})
    shown = (
        await query.ok(
            "GetQueueAttributes",
            {"QueueUrl": url, "AttributeNames": ["DelaySeconds", "VisibilityTimeout"]},
        )
    )["Attributes"]
    assert shown == {"DelaySeconds": "1", "VisibilityTimeout": "10"}
    await query.ok("TagQueue", {"QueueUrl": url, "Tags": {"team": "blue", "cost": "7"}})
    await query.ok("UntagQueue", {"QueueUrl": url, "TagKeys": ["cost"]})
    assert (await query.ok("ListQueueTags", {"QueueUrl": url}))["Tags"] == {"team": "blue"}
    await query.ok(
        "AddPermission",
        {
            "QueueUrl": url,
            "Label": "partner",
            "AWSAccountIds": ["111122223333"],
            "Actions": ["SendMessage", "ReceiveMessage"],
        },
    )
    policy = json.loads(
        (await query.ok("GetQueueAttributes", {"QueueUrl": url, "AttributeNames": ["Policy"]}))[
            "Attributes"
        ]["Policy"]
    )
    assert policy["Statement"][0]["Sid"] == "partner"
    await query.ok("RemovePermission", {"QueueUrl": url, "Label": "partner"})
    assert await query.error("RemovePermission", {"QueueUrl": url, "Label": "partner"})
    dead = await _queue(query, "dead")
    redrive = {"deadLetterTargetArn": f"arn:aws:sqs:eu-fr-1:{sqs.tenant_id}:dead"}
    redrive["maxReceiveCount"] = "1"
    await query.ok(
        "SetQueueAttributes",
        {"QueueUrl": url, "Attributes": {"RedrivePolicy": json.dumps(redrive)}},
    )
    sources = await query.ok("ListDeadLetterSourceQueues", {"QueueUrl": dead})
    assert sources["queueUrls"] == [url]
    await query.ok("PurgeQueue", {"QueueUrl": url})
    await query.ok("DeleteQueue", {"QueueUrl": url})
    gone = await query.call("GetQueueUrl", {"QueueName": "q"})
    assert (gone["status"], gone["Error"]["Code"]) == (
        400,
        "AWS.SimpleQueueService.NonExistentQueue",
    )
    assert gone["Error"]["Type"] == "Sender"


async def test_messages_batches_and_their_failures(sqs: Harness) -> None:
    query = QueryClient(sqs)
    url = await _queue(query)
    sent = await query.ok(
        "SendMessage",
        {
            "QueueUrl": url,
            "MessageBody": "derp",
            "MessageAttributes": {
                "timestamp": {"DataType": "Number", "StringValue": "1493147359900"},
                "raw": {"DataType": "Binary", "BinaryValue": b"hi"},
            },
        },
    )
    assert sent["MD5OfMessageBody"] == "58fd9edd83341c29f1aebba81c31e257"
    got = (
        await query.ok(
            "ReceiveMessage",
            {"QueueUrl": url, "MessageAttributeNames": ["timestamp"], "AttributeNames": ["All"]},
        )
    )["Messages"]
    assert got[0]["Body"] == "derp" and got[0]["MessageId"] == sent["MessageId"]
    # AWS's own digest of this attribute, as its answers give it.
    assert got[0]["MD5OfMessageAttributes"] == "235c5c510d26fb653d073faed50ae77c"
    assert got[0]["MessageAttributes"]["timestamp"]["StringValue"] == "1493147359900"
    assert got[0]["Attributes"]["ApproximateReceiveCount"] == "1"
    handle = got[0]["ReceiptHandle"]
    await query.ok(
        "ChangeMessageVisibility",
        {"QueueUrl": url, "ReceiptHandle": handle, "VisibilityTimeout": 0},
    )
    again = (
        await query.ok(
            "ReceiveMessage",
            {"QueueUrl": url, "AttributeNames": ["All"], "MessageAttributeNames": ["All"]},
        )
    )["Messages"]
    # A binary attribute comes back as sent (base64 on the wire both ways), counted again.
    assert again[0]["MessageAttributes"]["raw"] == {"BinaryValue": b"hi", "DataType": "Binary"}
    assert again[0]["Attributes"]["ApproximateReceiveCount"] == "2"
    # Nothing else is visible: an empty result, no Message element.
    empty = await query.ok("ReceiveMessage", {"QueueUrl": url, "VisibilityTimeout": 0})
    assert "Messages" not in empty
    await query.ok("DeleteMessage", {"QueueUrl": url, "ReceiptHandle": again[0]["ReceiptHandle"]})
    # A batch: one entry refused (a delay over 900 seconds), the others sent.
    batch = await query.ok(
        "SendMessageBatch",
        {
            "QueueUrl": url,
            "Entries": [
                {"Id": "a", "MessageBody": "one"},
                {"Id": "b", "MessageBody": "two", "DelaySeconds": 901},
                {
                    "Id": "c",
                    "MessageBody": "three",
                    "MessageAttributes": {"k": {"DataType": "String", "StringValue": "v"}},
                },
            ],
        },
    )
    assert sorted(e["Id"] for e in batch["Successful"]) == ["a", "c"]
    assert [(f["Id"], f["SenderFault"]) for f in batch["Failed"]] == [("b", True)]
    assert batch["Successful"][1]["MD5OfMessageAttributes"]
    received = (await query.ok("ReceiveMessage", {"QueueUrl": url, "MaxNumberOfMessages": 10}))[
        "Messages"
    ]
    assert sorted(m["Body"] for m in received) == ["one", "three"]
    handles = [m["ReceiptHandle"] for m in received]
    changed = await query.ok(
        "ChangeMessageVisibilityBatch",
        {
            "QueueUrl": url,
            "Entries": [
                {"Id": "x", "ReceiptHandle": handles[0], "VisibilityTimeout": 5},
                {"Id": "y", "ReceiptHandle": "not-a-handle", "VisibilityTimeout": 5},
            ],
        },
    )
    assert [e["Id"] for e in changed["Successful"]] == ["x"]
    assert [e["Id"] for e in changed["Failed"]] == ["y"]
    deleted = await query.ok(
        "DeleteMessageBatch",
        {
            "QueueUrl": url,
            "Entries": [{"Id": f"d{i}", "ReceiptHandle": h} for i, h in enumerate(handles)],
        },
    )
    assert sorted(e["Id"] for e in deleted["Successful"]) == ["d0", "d1"]
    refused = await query.error("SendMessageBatch", {"QueueUrl": url, "Entries": []})
    assert refused == "AWS.SimpleQueueService.EmptyBatchRequest"
    twice = [{"Id": "a", "MessageBody": "1"}, {"Id": "a", "MessageBody": "2"}]
    assert (
        await query.error("SendMessageBatch", {"QueueUrl": url, "Entries": twice})
    ) == "AWS.SimpleQueueService.BatchEntryIdsNotDistinct"
    # Metered and audited as the JSON protocol's calls are (decisions 0158, 0169).
    await sqs.audit.flush()
    audited = [e.action for _, e in await sqs.audit_store.list_events(None, after_id=0, limit=200)]
    assert "sqs:SendMessageBatch" in audited and "sqs:DeleteMessageBatch" in audited


async def test_fifo_and_move_tasks_over_query(sqs: Harness) -> None:
    query = QueryClient(sqs)
    url = await _queue(query, "f.fifo", FifoQueue="true", ContentBasedDeduplication="true")
    first = await query.ok(
        "SendMessage", {"QueueUrl": url, "MessageBody": "x", "MessageGroupId": "g"}
    )
    assert len(first["SequenceNumber"]) >= 20
    again = await query.ok(
        "SendMessage", {"QueueUrl": url, "MessageBody": "x", "MessageGroupId": "g"}
    )
    assert again["MessageId"] == first["MessageId"]
    got = await query.ok(
        "ReceiveMessage",
        {"QueueUrl": url, "AttributeNames": ["All"], "ReceiveRequestAttemptId": "try-1"},
    )
    assert got["Messages"][0]["Attributes"]["MessageGroupId"] == "g"
    assert (
        await query.error("SendMessage", {"QueueUrl": url, "MessageBody": "y"})
    ) == "MissingParameter"
    await _queue(query, "dead")
    dead_arn = f"arn:aws:sqs:eu-fr-1:{sqs.tenant_id}:dead"
    redrive = json.dumps({"deadLetterTargetArn": dead_arn, "maxReceiveCount": "1"})
    await _queue(query, "source", RedrivePolicy=redrive)
    await _queue(query, "target")
    started = await query.ok(
        "StartMessageMoveTask",
        {"SourceArn": dead_arn, "DestinationArn": f"arn:aws:sqs:eu-fr-1:{sqs.tenant_id}:target"},
    )
    listed = await query.ok("ListMessageMoveTasks", {"SourceArn": dead_arn})
    assert listed["Results"][0]["SourceArn"] == dead_arn
    assert isinstance(listed["Results"][0]["ApproximateNumberOfMessagesMoved"], int)
    cancelled = await query.call("CancelMessageMoveTask", {"TaskHandle": started["TaskHandle"]})
    assert cancelled["status"] in (200, 400, 404)  # it may have completed already


async def test_raw_form_posts_a_queue_url_path_and_a_get(sqs: Harness) -> None:
    query = QueryClient(sqs)
    url = await _queue(query)
    path = f"/{sqs.tenant_id}/q"
    # Posted to the queue's URL itself, the queue in the path.
    sent = await query.raw(
        {"Action": "SendMessage", "MessageBody": "a & <b>", "Version": "2012-11-05"}, path=path
    )
    assert sent.status == 200 and sent.headers["content-type"] == "text/xml"
    text = sent.body.decode()
    assert f'<SendMessageResponse xmlns="{NAMESPACE}">' in text
    assert "<SendMessageResult><MD5OfMessageBody>" in text and "<RequestId>" in text
    # A GET with its query string, as a browser or curl sends it.
    listed = await query.raw(None, method="GET", query={"Action": "ListQueues"}, content_type=None)
    assert listed.status == 200 and f"<QueueUrl>{url}</QueueUrl>" in listed.body.decode()
    received = await query.raw(
        {"Action": "ReceiveMessage", "QueueUrl": url, "AttributeName.1": "All"}
    )
    assert "<Body>a &amp; &lt;b&gt;</Body>" in received.body.decode()
    assert "<Attribute><Name>SenderId</Name><Value>" in received.body.decode()
    # The Query protocol's own refusals, in its error document.
    for params, status, code in (
        ({"Action": "Nope"}, 400, "InvalidAction"),
        ({"Action": "ListQueues", "Version": "2008-01-01"}, 400, "NoSuchVersion"),
        ({"Action": "ListQueues", "Version": "latest"}, 400, "MalformedVersion"),
        ({"QueueUrl": url}, 400, "MissingAction"),
        ({"Action": "SendMessage", "QueueUrl": url}, 400, "MissingParameter"),
        (
            {"Action": "ReceiveMessage", "QueueUrl": url, "MaxNumberOfMessages": "ten"},
            400,
            "InvalidParameterValue",
        ),
        (
            {"Action": "GetQueueUrl", "QueueName": "nope"},
            400,
            "AWS.SimpleQueueService.NonExistentQueue",
        ),
    ):
        reply = await query.raw(params)
        assert reply.status == status, (params, reply.body)
        assert f"<Type>Sender</Type><Code>{code}</Code>" in reply.body.decode(), reply.body
        assert "<RequestId>" in reply.body.decode()
    bad = await query.raw(None, query={"Action": "ListQueues"}, content_type=None)
    assert bad.status == 200
    unsigned = await query.raw({"Action": "ListQueues"}, signed=False)
    assert unsigned.status == 403 and b"<Code>MissingAuthenticationToken</Code>" in unsigned.body
    malformed = await query.raw(None, raw_query=b"Action=ListQueues&x=%FF", content_type=None)
    assert malformed.status == 404 and b"<Code>MalformedQueryString</Code>" in malformed.body
    json_body = await query.raw(None, query={"Action": "ListQueues"}, content_type="text/plain")
    assert json_body.status == 200


def _wire_names(shape: Shape, prefix: str) -> list[str]:
    """Every flat Query name ``shape`` reads, entries numbered 1."""
    if isinstance(shape, Scalar):
        return [prefix]
    if isinstance(shape, ListOf):
        return _wire_names(shape.member, f"{prefix}.1")
    if isinstance(shape, MapOf):
        entry = f"{prefix}.1"
        return [
            f"{entry}.{shape.key_name}",
            *_wire_names(shape.value, f"{entry}.{shape.value_name}"),
        ]
    names = []
    for member in shape.members:
        names += _wire_names(member.shape, f"{prefix}.{member.wire}" if prefix else member.wire)
    return names


async def test_bad_query_input_is_an_sqs_error_never_a_500(sqs: Harness) -> None:
    query = QueryClient(sqs)
    wrong = ["", "x", "-1", "9" * 30, "ø" * 300, "true"]
    sent = 0
    for action, (given, _) in SHAPES.items():
        url = await _queue(query, "victim")  # again after DeleteQueue took it
        for name in _wire_names(given, ""):
            for value in wrong:
                params = {"Action": action, "QueueUrl": url, name: value}
                reply = await query.raw(params)
                sent += 1
                assert reply.status < 500, (action, name, value, reply.body)
                if reply.status >= 400:
                    assert b"<ErrorResponse" in reply.body and b"<Code>" in reply.body
        # An entry without its key, and an index that skips.
        for name in ("Attribute.1.Value", "MessageAttribute.1.Value.DataType", "Tag.2.Key"):
            reply = await query.raw({"Action": action, "QueueUrl": url, name: "v"})
            assert reply.status < 500, (action, name, reply.body)
    assert sent > 500


async def test_query_calls_are_metered_as_json_ones(sqs: Harness) -> None:
    query = QueryClient(sqs)
    url = await _queue(query, "billed")
    await query.ok("SendMessage", {"QueueUrl": url, "MessageBody": "x" * 100})
    await query.ok("ReceiveMessage", {"QueueUrl": url})
    assert (await query.raw({"Action": "Frobnicate"})).status == 400
    # CreateQueue, SendMessage, ReceiveMessage: one each; an unknown action none.
    assert await sqs_requests_of(sqs.billing, sqs.tenant_id) == 3


def test_which_unsigned_requests_are_sqs_query_calls() -> None:
    form = [(b"content-type", b"application/x-www-form-urlencoded; charset=utf-8")]

    def scope(method: str, path: str, query: bytes = b"", headers: Any = ()) -> dict[str, Any]:
        return {"method": method, "path": path, "query_string": query, "headers": list(headers)}

    assert is_unsigned_query_call(scope("POST", "/123456789012/q", headers=form))
    assert is_unsigned_query_call(scope("GET", "/", b"Action=ListQueues&Version=2012-11-05"))
    # S3's: an object GET, a bucket's form, a multipart PostObject; STS's: a form on /.
    assert not is_unsigned_query_call(scope("GET", "/bucket/key", b"Action=ListQueues"))
    assert not is_unsigned_query_call(scope("POST", "/bucket", headers=form))
    # An anonymous multipart upload, curl's default content type (a key "dir/key", host-style).
    assert not is_unsigned_query_call(scope("POST", "/dir/key", b"uploads", form))
    assert not is_unsigned_query_call(scope("POST", "/bucket/key", b"uploadId=u1", form))
    multipart = [(b"content-type", b"multipart/form-data; boundary=x")]
    assert not is_unsigned_query_call(scope("POST", "/bucket/key", headers=multipart))
    assert not is_unsigned_query_call(scope("POST", "/", headers=form))
    assert not is_unsigned_query_call(scope("GET", "/", b"Action=AssumeRoleWithWebIdentity"))
    assert not is_unsigned_query_call(scope("GET", "/", b"Action=%FF"))


async def test_answers_are_always_well_formed_xml(sqs: Harness) -> None:
    query = QueryClient(sqs)
    url = await _queue(query)
    # Characters XML cannot carry are refused where text is taken (tags too)...
    refused = await query.raw(
        {"Action": "TagQueue", "QueueUrl": url, "Tag.1.Key": "k", "Tag.1.Value": "\x01"}
    )
    assert refused.status == 400 and b"<Code>InvalidParameterValue</Code>" in refused.body
    assert (await sqs.call("TagQueue", {"QueueUrl": url, "Tags": {"k\x02": "v"}})).status == 400
    # ...and would be written as U+FFFD, should one ever have been stored.
    document = answer_document("ListQueueTags", {"Tags": {"k\x01": "a\x00b"}}, "r1")
    assert defusedxml.ElementTree.fromstring(document) is not None
    assert "a\ufffdb" in document.decode()


async def test_the_parameter_count_is_bounded_by_its_setting(sqs: Harness, tmp_path: Path) -> None:
    url = await _queue(QueryClient(sqs))
    many = {"Action": "GetQueueAttributes", "QueueUrl": url}
    many |= {f"AttributeName.{n}": "All" for n in range(1, 150)}
    # Within the default (1,000): served.
    assert (await QueryClient(sqs).raw(many)).status == 200
    settings = Settings(
        data_dir=tmp_path, region="eu-fr-1", max_api_body_size=4096,
        queue_max_message_size=2048, queue_query_max_parameters=100,
    )  # fmt: skip
    bounded = dataclasses.replace(
        sqs, app=SqsApp(sqs.queues, sqs.identity, sqs.audit, settings, billing=sqs.billing)
    )
    refused = await QueryClient(bounded).raw(many)
    assert refused.status == 400 and b"more than 100 parameters" in refused.body
    few = {"Action": "GetQueueAttributes", "QueueUrl": url, "AttributeName.1": "All"}
    assert (await QueryClient(bounded).raw(few)).status == 200
