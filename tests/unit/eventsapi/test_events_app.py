"""Decision 0192's EventBridge app in process, built as ``serve`` builds it
(``wiring.events``: the SQL store on SQLite, the settings' limits) and signed with botocore's
SigV4 for service ``events``: bad input of every kind answered with EventBridge's JSON error
and a request id, never a 500; authorisation by identity policy; audit and metering; the
settings' limits reaching the calls."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore.credentials import Credentials

from andromede.audit.service import AuditService
from andromede.audit.store import MemoryAuditStore
from andromede.billing.model import parse_month
from andromede.billing.service import BillingService
from andromede.billing.store import MemoryBillingStore
from andromede.db.database import open_database
from andromede.eventsapi.actions import ACTIONS, NOT_SERVED
from andromede.eventsapi.app import CONTENT_TYPE, SERVED, EventsApp
from andromede.iam.policy.actions import known_action
from andromede.iam.secrets import SecretSealer
from andromede.iam.service import IdentityService
from andromede.iam.store_memory import MemoryIdentityStore
from andromede.settings import Settings
from andromede.wiring.events import EventsParts, EventTargets
from support.json_client import JsonReply, Signers, signed_json_post
from support.schema import migrated_sqlite

REGION = "eu-fr-1"


@dataclass
class Harness(Signers):
    app: EventsApp
    identity: IdentityService
    credentials: Credentials | None
    tenant_id: str
    audit_store: MemoryAuditStore
    billing: BillingService
    audit: AuditService

    async def call(self, action: str, payload: dict[str, Any] | bytes | None = None) -> JsonReply:
        return await signed_json_post(
            self.app,
            f"AWSEvents.{action}",
            payload,
            content_type=CONTENT_TYPE,
            credentials=self.credentials,
            service="events",
            region=REGION,
        )

    async def ok(self, action: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
        reply = await self.call(action, payload)
        assert reply.status == 200, reply.body
        return reply.json()

    async def error(self, action: str, payload: dict[str, Any] | bytes | None) -> str:
        reply = await self.call(action, payload)
        assert 400 <= reply.status < 500, reply.body
        return str(reply.error_fields()["__type"])

    async def other_account(self) -> tuple[Harness, str]:
        """The same app called by a second tenant's root, and that tenant's id."""
        created = await self.identity.create_tenant("other")
        other = Credentials(created.access_key_id, created.secret_access_key)
        return replace(self, credentials=other, tenant_id=created.tenant.id), created.tenant.id


@pytest.fixture
async def events(tmp_path: Path) -> AsyncIterator[Harness]:
    settings = Settings(
        data_dir=tmp_path,
        region=REGION,
        events_max_put_entries=3,
        events_max_rules=2,
        events_max_targets=1,
        events_max_pattern_length=200,
        events_max_body_size=4096,
        events_list_page=1,
        events_max_buses=1,
        events_max_put_size=3200,
        events_max_input=50,
        events_max_policy_size=1000,
    )
    identity = IdentityService(MemoryIdentityStore(), SecretSealer(os.urandom(32)))
    boot = await identity.bootstrap()
    assert boot is not None
    audit_store = MemoryAuditStore()
    audit = AuditService(audit_store)
    billing = BillingService(MemoryBillingStore(), region=REGION, instance_types=[])
    db = open_database(migrated_sqlite(tmp_path / "meta.db"))
    # No queue or topic behind the targets: deliveries are the service tests' and e2e's.
    targets: Any = EventTargets(None, None, None)  # type: ignore[arg-type]
    parts = EventsParts(settings, db, targets)
    try:
        yield Harness(
            parts.api(identity, audit, None, billing),
            identity,
            Credentials(boot.access_key_id, boot.secret_access_key),
            boot.tenant.id,
            audit_store,
            billing,
            audit,
        )
    finally:
        await billing.close()
        await audit.close()
        await db.close()


BAD_INPUTS: list[tuple[str, dict[str, Any] | bytes, str]] = [
    ("PutRule", b"not json", "SerializationException"),
    ("PutRule", b"[1, 2]", "SerializationException"),
    ("PutRule", {}, "ValidationException"),
    ("PutRule", {"Name": 5, "EventPattern": "{}"}, "ValidationException"),
    ("PutRule", {"Name": "x" * 65, "EventPattern": "{}"}, "ValidationException"),
    ("PutRule", {"Name": "r", "EventPattern": '{"a": 1}'}, "InvalidEventPatternException"),
    ("PutRule", {"Name": "r", "EventPattern": "{" * 1000}, "InvalidEventPatternException"),
    ("PutRule", {"Name": "r", "EventPattern": "{}", "Tags": "x"}, "ValidationException"),
    ("PutRule", {"Name": "r", "EventPattern": "{}", "Tags": [{"Key": 1}]}, "ValidationException"),
    ("PutRule", {"Name": "r", "ScheduleExpression": "cron(x)"}, "ValidationException"),
    ("PutRule", {"Name": "r", "EventPattern": "{}", "EventBusName": 7}, "ValidationException"),
    (
        "PutRule",
        {"Name": "r", "EventPattern": "{}", "EventBusName": "arn:aws:x"},
        "ValidationException",
    ),
    ("DescribeRule", {"Name": "missing"}, "ResourceNotFoundException"),
    ("PutTargets", {"Rule": "missing", "Targets": "x"}, "ValidationException"),
    ("PutTargets", {"Rule": "missing", "Targets": [1]}, "ValidationException"),
    ("PutTargets", {"Rule": "missing", "Targets": [{"Id": "a", "Arn": 1}]}, "ValidationException"),
    ("RemoveTargets", {"Rule": "r", "Ids": [1]}, "ValidationException"),
    ("ListRules", {"Limit": 0}, "ValidationException"),
    ("ListRules", {"Limit": "ten"}, "ValidationException"),
    ("ListRules", {"EventBusName": "nope"}, "ResourceNotFoundException"),
    ("PutEvents", {"Entries": "x"}, "ValidationException"),
    ("PutEvents", {"Entries": [1]}, "ValidationException"),
    ("PutEvents", {"Entries": []}, "ValidationException"),
    ("TestEventPattern", {"EventPattern": "{}", "Event": "[" * 3000}, "ValidationException"),
    ("TestEventPattern", {"EventPattern": "{}"}, "ValidationException"),
    ("CreateEventBus", {"Name": "default"}, "ValidationException"),
    ("CreateEventBus", {"Name": "b", "KmsKeyIdentifier": "k"}, "ValidationException"),
    ("DeleteEventBus", {"Name": "default"}, "ValidationException"),
    ("DescribeEventBus", {"Name": "nope"}, "ResourceNotFoundException"),
    (
        "TagResource",
        {"ResourceARN": "arn:aws:events:eu-fr-1:1:rule/r", "Tags": []},
        "ResourceNotFoundException",
    ),
    ("ListTagsForResource", {"ResourceARN": "nonsense"}, "ResourceNotFoundException"),
    ("UntagResource", {"ResourceARN": "x", "TagKeys": "k"}, "ValidationException"),
    ("CreateApiDestination", {}, "ValidationException"),  # served: decision 0200
    ("CreatePartnerEventSource", {}, "UnsupportedOperation"),  # endpoints: decision 0355
    ("Nonsense", {}, "UnknownOperationException"),
]


@pytest.mark.parametrize(("action", "payload", "wanted"), BAD_INPUTS)
async def test_bad_input_gets_eventbridges_errors(
    events: Harness, action: str, payload: dict[str, Any] | bytes, wanted: str
) -> None:
    assert await events.error(action, payload) == wanted


async def test_put_events_entry_shapes_never_fail_the_call(events: Harness) -> None:
    answer = await events.ok(
        "PutEvents",
        {
            "Entries": [
                {"Source": "a", "DetailType": "b", "Detail": "{", "EventBusName": 5},
                {"Source": ["a"], "DetailType": "b", "Detail": "{}", "Time": "yesterday"},
                {"Source": "a", "DetailType": "b", "Detail": "[" * 1500 + "]" * 1500},
            ]
        },
    )
    assert answer["FailedEntryCount"] == 3
    assert [e["ErrorCode"] for e in answer["Entries"]] == [
        "MalformedDetail",
        "InvalidArgument",
        "MalformedDetail",
    ]


async def test_settings_bound_the_calls(events: Harness) -> None:
    entry = {"Source": "a", "DetailType": "b", "Detail": "{}"}
    assert await events.error("PutEvents", {"Entries": [entry] * 4}) == "ValidationException"
    assert (await events.ok("PutEvents", {"Entries": [entry] * 3}))["FailedEntryCount"] == 0
    long_pattern = '{"source": ["' + "x" * 200 + '"]}'
    assert (
        await events.error("PutRule", {"Name": "r", "EventPattern": long_pattern})
        == "InvalidEventPatternException"
    )
    for name in ("r1", "r2"):
        await events.ok("PutRule", {"Name": name, "EventPattern": "{}"})
    assert (
        await events.error("PutRule", {"Name": "r3", "EventPattern": "{}"})
        == "LimitExceededException"
    )
    queue = f"arn:aws:sqs:{REGION}:{events.tenant_id}:q"
    targets = [{"Id": "a", "Arn": queue}, {"Id": "b", "Arn": queue}]
    assert (
        await events.error("PutTargets", {"Rule": "r1", "Targets": targets})
        == "LimitExceededException"
    )
    too_large = await events.call("PutEvents", {"Entries": [dict(entry, Detail="x" * 5000)]})
    assert too_large.status == 413
    big = dict(entry, Detail='{"x": "' + "y" * 3200 + '"}')
    assert await events.error("PutEvents", {"Entries": [big]}) == "ValidationException"
    page = await events.ok("ListRules")
    assert [r["Name"] for r in page["Rules"]] == ["r1"] and page["NextToken"]
    await events.ok("CreateEventBus", {"Name": "one"})
    assert await events.error("CreateEventBus", {"Name": "two"}) == "LimitExceededException"
    constant = [{"Id": "a", "Arn": queue, "Input": '"' + "z" * 60 + '"'}]
    assert (
        await events.error("PutTargets", {"Rule": "r1", "Targets": constant})
        == "ValidationException"
    )


async def test_identity_policies_audit_and_metering(events: Harness) -> None:
    user = await events.iam_user("dev")
    assert await user.error("ListRules", {}) == "AccessDeniedException"
    assert await events.anonymous().error("ListRules", {}) == "MissingAuthenticationTokenException"
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["events:PutRule", "events:ListRules"],
                "Resource": f"arn:aws:events:{REGION}:{events.tenant_id}:rule/app-*",
            },
            {"Effect": "Allow", "Action": "events:ListRules", "Resource": "*"},
        ],
    }
    await events.identity.put_user_policy(events.tenant_id, "dev", "events", json.dumps(policy))
    await user.ok("PutRule", {"Name": "app-orders", "EventPattern": "{}"})
    assert await user.error("PutRule", {"Name": "other", "EventPattern": "{}"}) == (
        "AccessDeniedException"
    )
    assert [r["Name"] for r in (await user.ok("ListRules"))["Rules"]] == ["app-orders"]
    entries = [{"Source": "a", "DetailType": "b", "Detail": "{}"}] * 2
    await events.ok("PutEvents", {"Entries": [*entries, {**entries[0], "Source": "aws.x"}]})
    await events.billing.flush()
    month = parse_month(datetime.now(UTC).strftime("%Y-%m"))
    report = await events.billing.usage_report(events.tenant_id, month)
    assert sum(line.quantity for line in report.lines if line.meter == "events.published") == 2
    await events.audit.flush()
    audited = [e for _, e in await events.audit_store.list_events(None, after_id=0, limit=100)]
    put_rules = [e for e in audited if e.action == "events:PutRule"]
    assert [(e.outcome.value, e.resource.rsplit("/", 1)[1]) for e in put_rules] == [
        ("success", "app-orders"),
        ("failure", "other"),
    ]


async def test_a_target_with_a_role_asks_iam_pass_role(events: Harness) -> None:
    """Decision 0238: as AWS, PutTargets naming a role (a Kinesis stream's here) asks the
    caller's ``iam:PassRole`` on it besides ``events:PutTargets``; AWS's words for a missing
    role come through the API."""
    await events.ok("PutRule", {"Name": "r", "EventPattern": "{}"})
    stream = f"arn:aws:kinesis:{REGION}:{events.tenant_id}:stream/s"
    role = f"arn:aws:iam::{events.tenant_id}:role/to-stream"
    missing = await events.call(
        "PutTargets", {"Rule": "r", "Targets": [{"Id": "k", "Arn": stream}]}
    )
    assert missing.error_fields()["__type"] == "ValidationException"
    assert missing.error_fields()["message"] == f"RoleArn is required for target {stream}."
    user = await events.iam_user("dev")
    put = {"Effect": "Allow", "Action": "events:PutTargets", "Resource": "*"}
    document = {"Version": "2012-10-17", "Statement": [put]}
    await events.identity.put_user_policy(events.tenant_id, "dev", "put", json.dumps(document))
    target = {"Rule": "r", "Targets": [{"Id": "k", "Arn": stream, "RoleArn": role}]}
    assert await user.error("PutTargets", target) == "AccessDeniedException"
    document["Statement"].append({"Effect": "Allow", "Action": "iam:PassRole", "Resource": role})
    await events.identity.put_user_policy(events.tenant_id, "dev", "put", json.dumps(document))
    assert (await user.ok("PutTargets", target))["FailedEntryCount"] == 0


def test_every_operation_is_in_the_action_catalogue() -> None:
    """A policy naming any EventBridge action, served or not yet, is accepted when written."""
    names = set(SERVED) | set(NOT_SERVED)
    assert sorted(name for name in names if not known_action("events", name)) == []
    assert not known_action("events", "PutEvent")


def test_every_operation_of_botocores_model_is_served_or_refused_by_name() -> None:
    model = botocore.session.get_session().get_service_model("events")
    assert (model.metadata["targetPrefix"], model.metadata["jsonVersion"]) == ("AWSEvents", "1.1")
    assert set(model.operation_names) == set(SERVED) | set(NOT_SERVED)
    assert not set(SERVED) & set(NOT_SERVED)
    assert set(ACTIONS) <= set(SERVED)


ENTRY = {"Source": "shop", "DetailType": "order", "Detail": "{}"}


async def test_put_permission_opens_a_bus_to_another_account(events: Harness) -> None:
    """Decision 0192, session 48: another account's PutEvents (the bus named by ARN) is judged
    by the engine against the bus's policy: refused before PutPermission and after
    RemovePermission, taken between; DescribeEventBus shows the policy."""
    other, other_id = await events.other_account()
    await events.ok("CreateEventBus", {"Name": "shared"})
    arn = f"arn:aws:events:{REGION}:{events.tenant_id}:event-bus/shared"
    entry = {**ENTRY, "EventBusName": arn}
    reply = await other.call("PutEvents", {"Entries": [entry]})
    assert reply.status == 400
    fields = reply.error_fields()
    assert fields["__type"] == "AccessDeniedException"
    assert f"is not authorized to perform: events:PutEvents on resource: {arn}" in str(
        fields["message"]
    )
    assert "no resource-based policy allows" in str(fields["message"])
    assert "Policy" not in await events.ok("DescribeEventBus", {"Name": "shared"})

    grant = {
        "EventBusName": "shared",
        "Action": "events:PutEvents",
        "Principal": other_id,
        "StatementId": "other",
    }
    assert await events.ok("PutPermission", grant) == {}
    assert await events.error("PutPermission", grant) == "ResourceAlreadyExistsException"
    policy = json.loads((await events.ok("DescribeEventBus", {"Name": "shared"}))["Policy"])
    assert policy["Statement"] == [
        {
            "Sid": "other",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{other_id}:root"},
            "Action": "events:PutEvents",
            "Resource": arn,
        }
    ]
    answer = await other.ok("PutEvents", {"Entries": [entry]})
    assert answer["FailedEntryCount"] == 0 and "EventId" in answer["Entries"][0]
    # The grant is the bus's alone: the owner's default bus stays closed.
    default = f"arn:aws:events:{REGION}:{events.tenant_id}:event-bus/default"
    assert (
        await other.error("PutEvents", {"Entries": [{**ENTRY, "EventBusName": default}]})
        == "AccessDeniedException"
    )
    # Another account's bus by name alone is the caller's own bus, never the owner's.
    assert await other.error("DescribeEventBus", {"Name": arn}) == "ResourceNotFoundException"

    assert (
        await events.error("RemovePermission", {"EventBusName": "shared", "StatementId": "x"})
        == "ResourceNotFoundException"
    )
    await events.ok("RemovePermission", {"EventBusName": "shared", "StatementId": "other"})
    assert "Policy" not in await events.ok("DescribeEventBus", {"Name": "shared"})
    assert await other.error("PutEvents", {"Entries": [entry]}) == "AccessDeniedException"
    assert (
        await events.error("RemovePermission", {"EventBusName": "shared", "StatementId": "other"})
        == "ResourceNotFoundException"
    )
    # The audit names the bus of each PutPermission, taken or refused.
    await events.audit.flush()
    audited = [e for _, e in await events.audit_store.list_events(None, after_id=0, limit=100)]
    assert [e.resource for e in audited if e.action == "events:PutPermission"] == [arn, arn]


async def test_a_whole_policy_and_remove_all_permissions(events: Harness) -> None:
    other, _ = await events.other_account()
    arn = f"arn:aws:events:{REGION}:{events.tenant_id}:event-bus/default"
    document = {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "all", "Effect": "Allow", "Principal": "*", "Action": "events:PutEvents",
             "Resource": arn},
        ],
    }  # fmt: skip
    await events.ok("PutPermission", {"Policy": json.dumps(document)})
    assert json.loads((await events.ok("DescribeEventBus", {}))["Policy"]) == document
    entry = {**ENTRY, "EventBusName": arn}
    assert (await other.ok("PutEvents", {"Entries": [entry]}))["FailedEntryCount"] == 0
    # A statement added to a whole policy goes beside its own.
    await events.ok(
        "PutPermission", {"Action": "events:PutEvents", "Principal": "*", "StatementId": "more"}
    )
    sids = [s["Sid"] for s in json.loads((await events.ok("DescribeEventBus", {}))["Policy"])[
        "Statement"]]  # fmt: skip
    assert sids == ["all", "more"]
    await events.ok("RemovePermission", {"RemoveAllPermissions": True})
    assert "Policy" not in await events.ok("DescribeEventBus", {})
    assert await other.error("PutEvents", {"Entries": [entry]}) == "AccessDeniedException"
    assert await events.error("RemovePermission", {"StatementId": "all"}) == (
        "ResourceNotFoundException"
    )


async def test_an_explicit_deny_in_the_bus_policy_wins_for_the_owners_users(
    events: Harness,
) -> None:
    """Within the account the bus policy counts too: its Deny beats an identity Allow."""
    arn = f"arn:aws:events:{REGION}:{events.tenant_id}:event-bus/default"
    document = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Deny", "Principal": "*", "Action": "events:PutEvents", "Resource": arn}
        ],
    }
    await events.ok("PutPermission", {"Policy": json.dumps(document)})
    assert await events.error("PutEvents", {"Entries": [ENTRY]}) == "AccessDeniedException"


PERMISSION = {"Action": "events:PutEvents", "Principal": "123456789012", "StatementId": "s"}
BAD_PERMISSIONS: list[tuple[str, dict[str, Any], str]] = [
    ("PutPermission", {**PERMISSION, "Action": "events:PutRule"}, "ValidationException"),
    ("PutPermission", {**PERMISSION, "Principal": "12345"}, "ValidationException"),
    ("PutPermission", {**PERMISSION, "Principal": 5}, "ValidationException"),
    ("PutPermission", {**PERMISSION, "StatementId": "a b"}, "ValidationException"),
    ("PutPermission", {"Action": "events:PutEvents", "Principal": "*"}, "ValidationException"),
    (
        "PutPermission",
        {
            **PERMISSION,
            "Principal": "*",
            "Condition": {"Type": "StringEquals", "Key": "aws:PrincipalOrgID", "Value": "o-1"},
        },
        "ValidationException",
    ),
    ("PutPermission", {"Policy": "{"}, "ValidationException"),
    ("PutPermission", {"Policy": '{"Statement": []}'}, "ValidationException"),
    ("PutPermission", {"Policy": "{}", "StatementId": "s"}, "ValidationException"),
    ("PutPermission", {**PERMISSION, "EventBusName": "nope"}, "ResourceNotFoundException"),
    ("RemovePermission", {}, "ValidationException"),
    ("RemovePermission", {"RemoveAllPermissions": "yes"}, "ValidationException"),
    ("RemovePermission", {"StatementId": "s"}, "ResourceNotFoundException"),
    ("RemovePermission", {"EventBusName": "nope", "StatementId": "s"}, "ResourceNotFoundException"),
    ("UpdateEventBus", {"Name": "nope", "Description": "d"}, "ResourceNotFoundException"),
    ("UpdateEventBus", {"Name": "default", "KmsKeyIdentifier": "k"}, "ValidationException"),
    ("UpdateEventBus", {"Name": "default", "Description": "d" * 513}, "ValidationException"),
    ("UpdateEventBus", {"Description": 5}, "ValidationException"),
]


@pytest.mark.parametrize(("action", "payload", "wanted"), BAD_PERMISSIONS)
async def test_bad_permissions_get_eventbridges_errors(
    events: Harness, action: str, payload: dict[str, Any], wanted: str
) -> None:
    assert await events.error(action, payload) == wanted


async def test_the_policy_size_is_a_setting(events: Harness) -> None:
    """events_max_policy_size (1000 here): the statements PutPermission adds count."""
    refused = None
    for number in range(10):
        reply = await events.call("PutPermission", {**PERMISSION, "StatementId": f"s{number}"})
        if reply.status != 200:
            refused = number, reply.error_fields()["__type"]
            break
    assert refused is not None and refused[0] > 2 and refused[1] == "ValidationException"
    held = (await events.ok("DescribeEventBus", {}))["Policy"]
    assert len(held) <= 1000 and len(json.loads(held)["Statement"]) == refused[0]
    assert await events.error("PutPermission", {"Policy": " " * 1001}) == "ValidationException"


async def test_update_event_bus_and_bus_tags(events: Harness) -> None:
    arn = (await events.ok("CreateEventBus", {"Name": "orders", "Tags": [
        {"Key": "team", "Value": "a"}]}))["EventBusArn"]  # fmt: skip
    answer = await events.ok("UpdateEventBus", {"Name": "orders", "Description": "Orders"})
    assert answer == {"Arn": arn, "Name": "orders", "Description": "Orders"}
    assert (await events.ok("DescribeEventBus", {"Name": "orders"}))["Description"] == "Orders"
    await events.ok("TagResource", {"ResourceARN": arn, "Tags": [{"Key": "env", "Value": "p"}]})
    tags = (await events.ok("ListTagsForResource", {"ResourceARN": arn}))["Tags"]
    assert tags == [{"Key": "env", "Value": "p"}, {"Key": "team", "Value": "a"}]
    await events.ok("UntagResource", {"ResourceARN": arn, "TagKeys": ["team"]})
    assert (await events.ok("ListTagsForResource", {"ResourceARN": arn}))["Tags"] == [
        {"Key": "env", "Value": "p"}
    ]
    # The description is kept by a tag change and an update without one.
    await events.ok("UpdateEventBus", {"Name": "orders"})
    assert (await events.ok("DescribeEventBus", {"Name": "orders"}))["Description"] == "Orders"
    default = f"arn:aws:events:{REGION}:{events.tenant_id}:event-bus/default"
    assert (await events.ok("ListTagsForResource", {"ResourceARN": default}))["Tags"] == []
    # Decision 0218: the default bus takes tags as AWS's does (its first tag makes its row).
    await events.ok("TagResource", {"ResourceARN": default, "Tags": [
        {"Key": "env", "Value": "prod"}, {"Key": "team", "Value": "b"}]})  # fmt: skip
    await events.ok("UntagResource", {"ResourceARN": default, "TagKeys": ["team"]})
    assert (await events.ok("ListTagsForResource", {"ResourceARN": default}))["Tags"] == [
        {"Key": "env", "Value": "prod"}
    ]
    listed = (await events.ok("ListEventBuses", {"NamePrefix": "def"}))["EventBuses"]
    assert [bus["Name"] for bus in listed] == ["default"]
    assert await events.error("DeleteEventBus", {"Name": "default"}) == "ValidationException"
    too_many = [{"Key": f"k{n}", "Value": "v"} for n in range(50)]
    assert (
        await events.error("TagResource", {"ResourceARN": default, "Tags": too_many})
        == "ValidationException"
    )
    other, _ = await events.other_account()
    assert (
        await other.error("TagResource", {"ResourceARN": arn, "Tags": []})
        == "ResourceNotFoundException"
    )
    await events.ok("DeleteEventBus", {"Name": "orders"})
    assert (
        await events.error("ListTagsForResource", {"ResourceARN": arn})
        == "ResourceNotFoundException"
    )


async def test_rule_calls_carry_eventbridges_condition_keys(events: Harness) -> None:
    """AWS's ``events:source`` and ``events:detail-type`` of PutRule's pattern (a filter in
    place of a source never equals a granted one), ``events:TargetArn`` of each target
    PutTargets puts (one target not granted refuses the call), and ``events:creatorAccount``
    on every call naming a rule."""
    user = await events.iam_user("dev")
    allowed_queue = f"arn:aws:sqs:{REGION}:{events.tenant_id}:allowed-1"
    statements = [
        {
            "Effect": "Allow",
            "Action": "events:PutRule",
            "Resource": "*",
            "Condition": {
                "ForAllValues:StringEquals": {"events:source": ["my.app", "my.other"]},
                "Null": {"events:source": "false"},
            },
        },
        {
            "Effect": "Allow",
            "Action": "events:PutTargets",
            "Resource": "*",
            "Condition": {
                "ArnLike": {"events:TargetArn": f"arn:aws:sqs:*:{events.tenant_id}:allowed-*"}
            },
        },
        {
            "Effect": "Allow",
            "Action": "events:DescribeRule",
            "Resource": "*",
            "Condition": {"StringEquals": {"events:creatorAccount": events.tenant_id}},
        },
        {
            "Effect": "Allow",
            "Action": "events:DeleteRule",
            "Resource": "*",
            "Condition": {"StringEquals": {"events:creatorAccount": "000000000009"}},
        },
    ]
    document = json.dumps({"Version": "2012-10-17", "Statement": statements})
    await events.identity.put_user_policy(events.tenant_id, "dev", "rules", document)

    def rule(name: str, pattern: object) -> dict[str, str]:
        return {"Name": name, "EventPattern": json.dumps(pattern)}

    await user.ok("PutRule", rule("mine", {"source": ["my.app"], "detail-type": ["x"]}))
    await user.ok("PutRule", rule("both", {"source": ["my.app", "my.other"]}))
    for refused in (
        {"source": ["my.app", "aws.ec2"]},
        {"source": [{"prefix": "my."}]},
        {"detail-type": ["x"]},  # no source at all: the Null condition refuses it
    ):
        assert await user.error("PutRule", rule("other", refused)) == "AccessDeniedException"

    one = {"Id": "a", "Arn": allowed_queue}
    other = {"Id": "b", "Arn": f"arn:aws:sqs:{REGION}:{events.tenant_id}:private"}
    assert (await user.ok("PutTargets", {"Rule": "mine", "Targets": [one]}))[
        "FailedEntryCount"
    ] == 0
    assert (
        await user.error("PutTargets", {"Rule": "mine", "Targets": [one, other]})
        == "AccessDeniedException"
    )

    assert (await user.ok("DescribeRule", {"Name": "mine"}))["Name"] == "mine"
    assert await user.error("DeleteRule", {"Name": "both"}) == "AccessDeniedException"
