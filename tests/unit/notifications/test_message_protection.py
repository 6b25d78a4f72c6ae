"""Decision 0215's SNS data protection documents and their statements, pure: SNS's document
(directions, principals, Audit / Deny / Deidentify with a mask character or a redaction)
checked with SNS's error; the identifiers are the ones Logs serves (decision 0211, one
module); a Deny statement finds the caller's term, a Deidentify one masks or removes it, each
only for the principals it names; the audit report is SNS's, sampled at its rate, to the
findings or the no-findings group."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from andromede.dataidentifiers import MANAGED_IDENTIFIERS
from andromede.logs import data_protection as logs_protection
from andromede.notifications.errors import InvalidTopic, MessageDenied
from andromede.notifications.message_protection import (
    check_document,
    deidentify,
    denied,
    policy_of,
)
from andromede.notifications.model import Topic, check_attributes
from andromede.notifications.protected_messages import MessageGuard
from andromede.notifications.subscriptions import SUBSCRIPTION_PRINCIPAL, Subscription
from support.metric_sinks import RecordingSink

EMAIL = "arn:aws:dataprotection::aws:data-identifier/EmailAddress"
CARD = "arn:aws:dataprotection::aws:data-identifier/CreditCardNumber"
ACCOUNT = "111122223333"
PUBLISHER = f"arn:aws:iam::{ACCOUNT}:user/app"


def document(*statements: dict[str, Any], **extra: Any) -> str:
    return json.dumps(
        {"Name": "p", "Version": "2021-06-01", "Statement": list(statements), **extra}
    )


def statement(operation: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {
        "DataDirection": "Inbound",
        "Principal": ["*"],
        "DataIdentifier": [EMAIL],
        "Operation": operation,
        **fields,
    }


AUDIT = {
    "Audit": {
        "SampleRate": "99",
        "FindingsDestination": {"CloudWatchLogs": {"LogGroup": "/aws/vendedlogs/found"}},
        "NoFindingsDestination": {"CloudWatchLogs": {"LogGroup": "/aws/vendedlogs/none"}},
    }
}


def test_the_logs_and_sns_policies_share_one_set_of_identifiers() -> None:
    assert logs_protection.MANAGED_IDENTIFIERS is MANAGED_IDENTIFIERS
    assert logs_protection.Detector.__module__ == "andromede.dataidentifiers"


def test_a_document_as_sns_takes_it() -> None:
    policy = check_document(
        document(
            statement(AUDIT, Sid="audit"),
            statement({"Deny": {}}, DataIdentifier=[CARD, "Ticket"]),
            statement({"Deidentify": {"MaskConfig": {"MaskWithCharacter": "#"}}}),
            statement({"Deidentify": {"RedactConfig": {}}}, DataDirection="Outbound"),
            Configuration={"CustomDataIdentifier": [{"Name": "Ticket", "Regex": "TCK-[0-9]{4}"}]},
        )
    )
    audit = policy.audit
    assert audit is not None and audit.sample_rate == 99
    assert (audit.findings_group, audit.no_findings_group) == (
        "/aws/vendedlogs/found",
        "/aws/vendedlogs/none",
    )
    (deny,) = policy.of("Inbound", "Deny")
    assert deny.detector.managed == ("CreditCardNumber",)
    assert deny.detector.custom == (("Ticket", "TCK-[0-9]{4}"),)
    assert policy.of("Inbound", "Deidentify")[0].mask_with == "#"
    assert policy.of("Outbound", "Deidentify")[0].mask_with is None


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("not json", "not JSON"),
        (json.dumps({"Version": "2021-06-01", "Statement": []}), "Name is required"),
        (json.dumps({"Name": "p", "Version": "2012-10-17", "Statement": []}), "Version"),
        (json.dumps({"Name": "p", "Version": "2021-06-01", "Description": 7}), "Description"),
        ("[]", "not a JSON object"),
        (document(), "at least one statement"),
        (document(statement({"Deny": {}}, DataDirection="Sideways")), "DataDirection"),
        (document(statement({"Deny": {}}, Principal=[])), "Principal"),
        (document(statement({"Deny": {}}, DataIdentifier=["Name"])), "not one this region"),
        (document(statement({"Block": {}})), "is not Audit, Deny or Deidentify"),
        (document(statement({"Deny": {"x": 1}})), "Deny operation is an empty object"),
        (document(statement({"Deidentify": {}})), "MaskConfig or a RedactConfig"),
        (
            document(statement({"Deidentify": {"MaskConfig": {"MaskWithCharacter": "ab"}}})),
            "one printable character",
        ),
        (document(statement(AUDIT), statement(AUDIT)), "at most one Audit"),
        (document(statement(AUDIT, DataDirection="Outbound")), "Audit statement's DataDirection"),
        (
            document(statement({"Audit": {**AUDIT["Audit"], "SampleRate": "100"}})),
            "SampleRate",
        ),
        (
            document(
                statement(
                    {
                        "Audit": {
                            "SampleRate": 5,
                            "FindingsDestination": {"CloudWatchLogs": {"LogGroup": "mine"}},
                        }
                    }
                )
            ),
            "/aws/vendedlogs/",
        ),
        (
            document(
                statement(
                    {"Audit": {"SampleRate": 5, "FindingsDestination": {"S3": {"Bucket": "b"}}}}
                )
            ),
            "S3 findings destinations are not served here",
        ),
        (
            document(
                statement(
                    {
                        "Audit": {
                            "SampleRate": 5,
                            "FindingsDestination": {"Firehose": {"DeliveryStream": "a/b"}},
                        }
                    }
                )
            ),
            "a delivery stream's name",
        ),
        ("x" * 30_721, "at most 30720"),
    ],
)
def test_documents_sns_refuses(text: str, reason: str) -> None:
    with pytest.raises(InvalidTopic) as caught:
        check_document(text)
    assert str(caught.value).startswith("Invalid parameter: DataProtectionPolicy Reason: ")
    assert reason in str(caught.value)
    # The topic's attribute is checked the same way (CreateTopic, PutDataProtectionPolicy).
    with pytest.raises(InvalidTopic):
        check_attributes({"DataProtectionPolicy": text})


def test_deny_and_deidentify_apply_to_the_principals_named() -> None:
    policy = check_document(
        document(
            statement({"Deny": {}}, Principal=[PUBLISHER]),
            statement({"Deidentify": {"MaskConfig": {}}}, Principal=[ACCOUNT]),
            statement({"Deidentify": {"RedactConfig": {}}}, Principal=["arn:aws:iam::9:root"]),
        )
    )
    text = "mail ana@example.com now"
    refusal = denied(policy.of("Inbound", "Deny"), text, PUBLISHER, ACCOUNT)
    assert isinstance(refusal, MessageDenied)
    assert denied(policy.of("Inbound", "Deny"), "nothing here", PUBLISHER, ACCOUNT) is None
    other = f"arn:aws:iam::{ACCOUNT}:user/other"
    assert denied(policy.of("Inbound", "Deny"), text, other, ACCOUNT) is None
    masks = policy.of("Inbound", "Deidentify")
    assert deidentify(masks, text, other, ACCOUNT) == "mail *************** now"
    assert deidentify(masks, text, "arn:aws:iam::9:user/x", "9") == "mail  now"
    assert deidentify(masks, text, "arn:aws:iam::8:user/x", "8") == text


class Findings:
    def __init__(self) -> None:
        self.written: list[tuple[str, str, str, tuple[int, str]]] = []

    async def write(self, tenant_id: str, group: str, stream: str, event: tuple[int, str]) -> None:
        self.written.append((tenant_id, group, stream, event))


def topic_with(text: str) -> Topic:
    return Topic(
        tenant_id=ACCOUNT,
        name="orders",
        region="eu",
        attributes=check_attributes({"DataProtectionPolicy": text}),
        created_at=datetime(2026, 12, 6, tzinfo=UTC),
    )


async def test_audit_reports_are_snss_sampled_at_the_rate() -> None:
    now = datetime(2026, 12, 6, 7, 0, tzinfo=UTC)
    draws = iter([0.5, 0.5, 0.995])
    guard = MessageGuard(lambda: now, draw=lambda: next(draws))
    findings, metrics = Findings(), RecordingSink()
    guard.findings, guard.metrics = findings, metrics
    topic = topic_with(document(statement(AUDIT)))
    caller = (PUBLISHER, ACCOUNT)
    await guard.audit(topic, "to ana@example.com", None, caller, "m-1")
    await guard.audit(topic, "nothing", None, caller, "m-2")
    await guard.audit(topic, "to ana@example.com", None, caller, "m-3")  # not sampled
    assert [(g, s) for _, g, s, _ in findings.written] == [
        ("/aws/vendedlogs/found", "orders"),
        ("/aws/vendedlogs/none", "orders"),
    ]
    report = json.loads(findings.written[0][3][1])
    assert report == {
        "messageId": "m-1",
        "callerPrincipal": PUBLISHER,
        "resourceArn": topic.arn,
        "dataIdentifiers": [
            {"name": "EmailAddress", "count": 1, "detections": [{"start": 3, "end": 18}]}
        ],
        "timestamp": "2026-12-06T07:00:00.000Z",
    }
    assert json.loads(findings.written[1][3][1])["dataIdentifiers"] == []
    # SNS's audit metrics, in the topic owner's AWS/SNS, for the messages audited only.
    assert metrics.points == [
        (ACCOUNT, "AWS/SNS", "MessagesWithFindings", (("TopicName", "orders"),), 1, "Count"),
        (ACCOUNT, "AWS/SNS", "MessagesWithNoFindings", (("TopicName", "orders"),), 1, "Count"),
    ]


class Streams:
    def __init__(self) -> None:
        self.records: list[tuple[str, str, str | None, bytes]] = []

    async def check(self, tenant_id: str, stream_arn: str, role_arn: str) -> str | None:
        return None

    async def put(self, tenant_id: str, stream_arn: str, role_arn: str | None, data: bytes) -> None:
        self.records.append((tenant_id, stream_arn, role_arn, data))


async def test_findings_into_a_firehose_stream_of_the_topics_account() -> None:
    """Decision 0226: a Firehose findings destination (alone, or beside a Logs group) gets
    each report as one record, newline-terminated, put as the platform."""
    now = datetime(2026, 12, 6, 7, 0, tzinfo=UTC)
    guard = MessageGuard(lambda: now, draw=lambda: 0.0)
    findings, streams = Findings(), Streams()
    guard.findings, guard.streams = findings, streams
    audit = {
        "Audit": {
            "SampleRate": 50,
            "FindingsDestination": {
                "Firehose": {"DeliveryStream": "findings"},
                "CloudWatchLogs": {"LogGroup": "/aws/vendedlogs/found"},
            },
            "NoFindingsDestination": {"Firehose": {"DeliveryStream": "clean"}},
        }
    }
    topic = topic_with(document(statement(audit)))
    await guard.audit(topic, "to ana@example.com", None, (PUBLISHER, ACCOUNT), "m-1")
    await guard.audit(topic, "nothing", None, (PUBLISHER, ACCOUNT), "m-2")
    assert [(t, a, r) for t, a, r, _ in streams.records] == [
        (ACCOUNT, f"arn:aws:firehose:eu:{ACCOUNT}:deliverystream/findings", None),
        (ACCOUNT, f"arn:aws:firehose:eu:{ACCOUNT}:deliverystream/clean", None),
    ]
    first = streams.records[0][3]
    assert first.endswith(b"\n")
    assert json.loads(first) == json.loads(findings.written[0][3][1])
    assert json.loads(first)["messageId"] == "m-1"
    assert json.loads(streams.records[1][3])["dataIdentifiers"] == []
    assert len(findings.written) == 1  # the no-findings reports have no Logs group here


def test_a_json_structure_is_protected_per_protocol() -> None:
    guard = MessageGuard(lambda: datetime.now(UTC))
    topic = topic_with(document(statement({"Deidentify": {"MaskConfig": {}}})))
    message = json.dumps({"default": "a@b.io", "sqs": "c@d.io x"})
    protected = json.loads(guard.inbound(topic, message, "json", (PUBLISHER, ACCOUNT)))
    assert protected == {"default": "******", "sqs": "****** x"}
    assert policy_of(topic.attributes) is policy_of(dict(topic.attributes))  # parsed once


def test_outbound_statements_judge_the_principal_that_subscribed() -> None:
    subscriber = f"arn:aws:iam::{ACCOUNT}:role/reader"
    guard = MessageGuard(lambda: datetime.now(UTC))
    topic = topic_with(
        document(
            statement({"Deny": {}}, DataDirection="Outbound", Principal=[subscriber]),
            statement({"Deidentify": {"MaskConfig": {}}}, DataDirection="Outbound"),
        )
    )

    def subscription(principal: str | None) -> Subscription:
        attributes = {} if principal is None else {SUBSCRIPTION_PRINCIPAL: principal}
        return Subscription(
            arn=topic.arn + ":s",
            topic_arn=topic.arn,
            tenant_id=ACCOUNT,
            owner=ACCOUNT,
            protocol="sqs",
            endpoint=f"arn:aws:sqs:eu:{ACCOUNT}:q",
            attributes=attributes,
            token=None,
            created_at=datetime(2026, 12, 6, tzinfo=UTC),
        )

    text = "to ana@example.com"
    assert guard.outbound(topic, subscription(subscriber), text) is None
    assert guard.outbound(topic, subscription(PUBLISHER), text) == "to ***************"
    assert guard.outbound(topic, subscription(None), "nothing") == "nothing"
