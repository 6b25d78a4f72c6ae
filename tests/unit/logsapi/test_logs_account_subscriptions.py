"""CloudWatch Logs' account-level subscription filter policies (decision 0232) through Logs'
JSON protocol in process, calls made through botocore's model of ``logs``, over a real
Firehose service: PutAccountPolicy of ``SUBSCRIPTION_FILTER_POLICY`` (its CONTROL_MESSAGE, its
answer with the selection criteria), every group of the account delivered but the excluded
ones, besides the group's own two filters, groups made later too, Infrequent Access groups
not; DescribeSubscriptionFilters not listing it; one policy an account, replaced by name,
deleted; documents and selection criteria refused as AWS refuses them; the permissions AWS
asks for; another account untouched; a closed account's policy gone."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from andromede.logs.account_subscriptions import MAX_SELECTION_BYTES, check_selection
from andromede.logs.errors import InvalidParameter
from support.logsapp import NOW
from support.logsubscriptions import LOGS_TRUST, Wire, subscription_wire

KIND = "SUBSCRIPTION_FILTER_POLICY"


@pytest.fixture
async def wire(tmp_path: Path) -> AsyncIterator[Wire]:
    async for found in subscription_wire(tmp_path):
        for group in ("/app/api", "/app/quiet"):
            await found.client("CreateLogGroup", logGroupName=group)
            await found.client("CreateLogStream", logGroupName=group, logStreamName="s")
        yield found


def document(wire: Wire, **more: Any) -> str:
    return json.dumps(
        {"DestinationArn": wire.stream_arn, "RoleArn": wire.role_arn, "FilterPattern": "ERROR"}
        | more
    )


async def put_policy(wire: Wire, name: str = "everything", **more: Any) -> dict[str, Any]:
    params = {"policyName": name, "policyType": KIND, "policyDocument": document(wire)} | more
    answer = await wire.client("PutAccountPolicy", **params)
    assert "Error" not in answer, answer
    return answer


async def put_into(wire: Wire, group: str, *messages: str) -> None:
    events = [{"timestamp": NOW + i, "message": m} for i, m in enumerate(messages)]
    answer = await wire.client(
        "PutLogEvents", logGroupName=group, logStreamName="s", logEvents=events
    )
    assert "Error" not in answer, answer


async def delivered(wire: Wire) -> list[tuple[str, str, list[str]]]:
    """(group, filter, messages) of every DATA_MESSAGE delivered, in a stable order."""
    while await wire.subscriptions.deliver_once("gw") > 0:
        pass
    found = [
        (m["logGroup"], m["subscriptionFilters"][0], [e["message"] for e in m["logEvents"]])
        for m in await wire.data()
    ]
    return sorted(found)


async def test_every_group_but_the_excluded_is_delivered_besides_its_own_filters(
    wire: Wire,
) -> None:
    criteria = 'LogGroupName NOT IN ["/app/quiet"]'
    answer = await put_policy(wire, selectionCriteria=criteria, scope="ALL")
    assert answer["accountPolicy"] == {
        "policyName": "everything",
        "policyDocument": document(wire),
        "lastUpdatedTime": NOW,
        "policyType": KIND,
        "scope": "ALL",
        "selectionCriteria": criteria,
        "accountId": wire.logs.tenant_id,
    }
    [control] = await wire.landed()  # its destination checked first, as a filter's
    assert control["messageType"] == "CONTROL_MESSAGE"
    # The group's own two filters still fit: AWS counts the account's policy apart.
    await wire.subscribe("own")
    await wire.subscribe("second", pattern="nothing matches this")
    await wire.client("CreateLogGroup", logGroupName="/later")  # made after the policy
    await wire.client("CreateLogStream", logGroupName="/later", logStreamName="s")
    await wire.put("ERROR web", "fine")
    await put_into(wire, "/app/api", "ERROR api")
    await put_into(wire, "/app/quiet", "ERROR quiet")
    await put_into(wire, "/later", "ERROR later", "INFO later")
    assert await delivered(wire) == [
        ("/app/api", "everything", ["ERROR api"]),
        ("/app/web", "everything", ["ERROR web"]),
        ("/app/web", "own", ["ERROR web"]),
        ("/later", "everything", ["ERROR later"]),
    ]
    # DescribeSubscriptionFilters lists the group's own filters only, as AWS's.
    listed = await wire.client("DescribeSubscriptionFilters", logGroupName="/app/web")
    assert [f["filterName"] for f in listed["subscriptionFilters"]] == ["own", "second"]
    described = await wire.client("DescribeAccountPolicies", policyType=KIND)
    assert described["accountPolicies"] == [answer["accountPolicy"]]
    named = await wire.client("DescribeAccountPolicies", policyType=KIND, policyName="nope")
    assert named["accountPolicies"] == []
    await wire.logs.audit.flush()
    found = await wire.logs.audit_store.list_events(None, after_id=0, limit=100)
    assert ("logs:PutAccountPolicy", "success") in {(e.action, e.outcome.value) for _, e in found}


async def test_infrequent_access_groups_are_not_delivered(wire: Wire) -> None:
    await put_policy(wire)
    await wire.client("CreateLogGroup", logGroupName="/ia", logGroupClass="INFREQUENT_ACCESS")
    await wire.client("CreateLogStream", logGroupName="/ia", logStreamName="s")
    await put_into(wire, "/ia", "ERROR cold")
    assert await delivered(wire) == []


async def test_one_policy_an_account_replaced_by_name_then_deleted(wire: Wire) -> None:
    await put_policy(wire, selectionCriteria='LogGroupName NOT IN ["/app/web"]')
    message = await wire.fails(
        "PutAccountPolicy", "LimitExceededException",
        policyName="second", policyType=KIND, policyDocument=document(wire),
    )  # fmt: skip
    assert "only one account-level subscription filter policy" in message
    wire.logs.world.clock.now += 5
    replaced = await put_policy(wire, policyDocument=document(wire, FilterPattern="WARN"))
    assert replaced["accountPolicy"]["lastUpdatedTime"] == NOW + 5
    assert "selectionCriteria" not in replaced["accountPolicy"]  # put without: every group
    # A data protection account policy is another type: both kept.
    protection = json.dumps(
        {
            "Name": "p",
            "Version": "2021-06-01",
            "Statement": [
                {
                    "Sid": "audit",
                    "DataIdentifier": ["arn:aws:dataprotection::aws:data-identifier/EmailAddress"],
                    "Operation": {"Audit": {"FindingsDestination": {}}},
                },
                {
                    "Sid": "redact",
                    "DataIdentifier": ["arn:aws:dataprotection::aws:data-identifier/EmailAddress"],
                    "Operation": {"Deidentify": {"MaskConfig": {}}},
                },
            ],
        }
    )
    await wire.client(
        "PutAccountPolicy",
        policyName="mask",
        policyType="DATA_PROTECTION_POLICY",
        policyDocument=protection,
    )
    await wire.put("WARN web", "ERROR web")
    assert await delivered(wire) == [("/app/web", "everything", ["WARN web"])]
    kinds = await wire.client("DescribeAccountPolicies", policyType="DATA_PROTECTION_POLICY")
    assert [p["policyName"] for p in kinds["accountPolicies"]] == ["mask"]
    await wire.client("DeleteAccountPolicy", policyName="everything", policyType=KIND)
    await wire.fails(
        "DeleteAccountPolicy", "ResourceNotFoundException", policyName="everything",
        policyType=KIND,
    )  # fmt: skip
    await wire.put("WARN again")
    assert await delivered(wire) == [("/app/web", "everything", ["WARN web"])]  # nothing new
    assert (await wire.client("DescribeAccountPolicies", policyType=KIND))["accountPolicies"] == []
    left = await wire.client("DescribeAccountPolicies", policyType="DATA_PROTECTION_POLICY")
    assert len(left["accountPolicies"]) == 1


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"policyDocument": "not json"}, "not JSON"),
        ({"policyDocument": "[]"}, "JSON object"),
        ({"document": {"Other": 1}}, "unknown field 'Other'"),
        ({"document": {"DestinationArn": None}}, "'DestinationArn' failed to satisfy"),
        ({"document": {"RoleArn": None}}, "A RoleArn is required"),
        ({"document": {"Distribution": "Even"}}, "'Distribution' failed to satisfy"),
        ({"document": {"FilterPattern": '{ $.x = "'}}, ""),
        (
            {"document": {"DestinationArn": "arn:aws:lambda:eu-fr-1:999:function:f"}},
            "own account and Region",
        ),
        (
            {"document": {"DestinationArn": "arn:aws:firehose:eu-fr-1:999:deliverystream/x"}},
            "own account and Region",
        ),
        ({"selectionCriteria": 'LogGroupNamePrefix IN ["/a"]'}, "LogGroupName NOT IN"),
        ({"selectionCriteria": 'LogGroupName IN ["/a"]'}, "LogGroupName NOT IN"),
        ({"selectionCriteria": "LogGroupName NOT IN [/a]"}, "LogGroupName NOT IN"),
        ({"selectionCriteria": 'LogGroupName NOT IN ["/a", 3]'}, "LogGroupName NOT IN"),
        ({"selectionCriteria": json.dumps([f"/g{i}" for i in range(51)])}, "NOT IN"),
        (
            {
                "selectionCriteria": "LogGroupName NOT IN "
                + json.dumps([f"/g{i}" for i in range(51)])
            },
            "at most 50 log groups",
        ),
        ({"selectionCriteria": "LogGroupName NOT IN " + json.dumps(["x" * 26_000])}, "bytes"),
        ({"scope": "SOME"}, "scope"),
    ],
)
async def test_documents_and_criteria_refused_as_aws(
    wire: Wire, change: dict[str, Any], words: str
) -> None:
    fields = json.loads(document(wire))
    for key, value in change.pop("document", {}).items():
        if value is None:
            del fields[key]
        else:
            account = wire.logs.tenant_id
            fields[key] = value.replace("{account}", account) if isinstance(value, str) else value
    params = {
        "policyName": "p",
        "policyType": KIND,
        "policyDocument": json.dumps(fields),
    } | change
    message = await wire.fails("PutAccountPolicy", "InvalidParameterException", **params)
    assert words in message
    assert (await wire.client("DescribeAccountPolicies", policyType=KIND))["accountPolicies"] == []
    assert await wire.landed() == []  # refused before any test record


async def test_a_destination_refusing_the_test_record_keeps_nothing(wire: Wire) -> None:
    plain = await wire.firehose.identity.create_role(wire.logs.tenant_id, "plain", LOGS_TRUST)
    message = await wire.fails(
        "PutAccountPolicy", "InvalidParameterException", policyName="p", policyType=KIND,
        policyDocument=json.dumps({"DestinationArn": wire.stream_arn, "RoleArn": plain.arn}),
    )  # fmt: skip
    assert message.startswith("Could not deliver test message to specified Firehose stream.")
    assert (await wire.client("DescribeAccountPolicies", policyType=KIND))["accountPolicies"] == []
    dry = await wire.client(
        "PutAccountPolicy", policyName="p", policyType=KIND, policyDocument=document(wire),
        dryRun=True,
    )  # fmt: skip
    assert dry["accountPolicy"]["policyName"] == "p"
    assert (await wire.client("DescribeAccountPolicies", policyType=KIND))["accountPolicies"] == []


def allow(*actions: str) -> str:
    statement = {"Effect": "Allow", "Action": list(actions), "Resource": "*"}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


async def test_the_caller_needs_the_subscription_permissions_too(wire: Wire) -> None:
    user = dataclasses.replace(wire, logs=await wire.logs.iam_user("dev"))
    identity = wire.firehose.identity
    tenant = wire.logs.tenant_id
    params = {"policyName": "p", "policyType": KIND, "policyDocument": document(wire)}
    for granted, missing in [
        (("logs:PutAccountPolicy",), "logs:PutSubscriptionFilter"),
        (("logs:PutAccountPolicy", "logs:PutSubscriptionFilter"), "iam:PassRole"),
    ]:
        await identity.put_user_policy(tenant, "dev", "p", allow(*granted))
        message = await user.fails("PutAccountPolicy", "AccessDeniedException", **params)
        assert missing in message
    await identity.put_user_policy(
        tenant, "dev", "p", allow("logs:PutAccountPolicy", "logs:PutSubscriptionFilter", "iam:*")
    )
    assert "Error" not in await user.client("PutAccountPolicy", **params)
    await identity.put_user_policy(tenant, "dev", "p", allow("logs:DescribeAccountPolicies"))
    message = await user.fails("DescribeAccountPolicies", "AccessDeniedException", policyType=KIND)
    assert "logs:DescribeSubscriptionFilters" in message
    await identity.put_user_policy(tenant, "dev", "p", allow("logs:DeleteAccountPolicy"))
    message = await user.fails(
        "DeleteAccountPolicy", "AccessDeniedException", policyName="p", policyType=KIND
    )
    assert "logs:DeleteSubscriptionFilter" in message


async def test_another_account_is_untouched_and_a_closed_one_forgotten(wire: Wire) -> None:
    await put_policy(wire)
    other = dataclasses.replace(wire, logs=await wire.logs.other_tenant("other"))
    assert (await other.client("DescribeAccountPolicies", policyType=KIND))["accountPolicies"] == []
    await other.client("DeleteAccountPolicy", policyName="everything", policyType=KIND)
    assert len((await wire.client("DescribeAccountPolicies", policyType=KIND))[
        "accountPolicies"
    ]) == 1  # fmt: skip
    await other.client("CreateLogGroup", logGroupName="/app/web")
    await other.client("CreateLogStream", logGroupName="/app/web", logStreamName="s")
    await other.put("ERROR of the other account")
    assert await delivered(wire) == []
    await wire.subscriptions.forget_tenant(wire.logs.tenant_id)
    assert (await wire.client("DescribeAccountPolicies", policyType=KIND))["accountPolicies"] == []


@pytest.mark.parametrize(
    ("criteria", "excluded"),
    [
        (None, set()),
        ("LogGroupName NOT IN []", set()),
        ('LogGroupName NOT IN ["a"]', {"a"}),
        ('  LogGroupName  NOT   IN\n[ "a" , "/b/c" ]  ', {"a", "/b/c"}),
    ],
)
def test_the_selection_grammar(criteria: str | None, excluded: set[str]) -> None:
    assert check_selection(criteria, 50) == excluded


def test_the_selection_bounds() -> None:
    names = [f"/g{i}" for i in range(3)]
    assert len(check_selection(f"LogGroupName NOT IN {json.dumps(names)}", 3)) == 3
    with pytest.raises(InvalidParameter, match="at most 2 log groups"):
        check_selection(f"LogGroupName NOT IN {json.dumps(names)}", 2)
    # 2 bytes each in UTF-8: AWS counts the bytes, not the characters.
    fits = "LogGroupName NOT IN " + json.dumps(["é" * 12_000], ensure_ascii=False)
    past = fits + " " * 2_000
    assert len(fits.encode()) <= MAX_SELECTION_BYTES < len(past.encode())
    assert len(past) < MAX_SELECTION_BYTES
    assert check_selection(fits, 1)
    with pytest.raises(InvalidParameter, match="bytes"):
        check_selection(past, 1)
