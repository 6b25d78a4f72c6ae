"""Decision 0241's parameter policy notifications and Parameter Store's EventBridge events,
through the in-process app and the upkeep's round under a later clock: ExpirationNotification
and NoChangeNotification accepted on Advanced parameters, each action taken once however
often the upkeep runs (and by one of two gateways running at once), a new version resetting
NoChangeNotification, and the "Parameter Store Change" events of each write."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from andromede.events.service import EventsService
from andromede.ssm.service import Actor, NewValue, ParameterService
from andromede.wiring.ssm import ParameterEvents, take_policy_actions
from support.ssmapp import Harness


class Bus:
    """EventsService.route, recorded."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, dict[str, Any]]] = []

    async def route(self, tenant_id: str, bus: str, events: list[dict[str, Any]]) -> int:
        self.sent.extend((tenant_id, bus, e) for e in events)
        return 0


def told(ssm: Harness, bus: Bus, service: ParameterService | None = None) -> ParameterService:
    service = service or ssm.app.service
    events = ParameterEvents(cast(EventsService, bus))
    service.on_change = events.changed
    service.on_policy_action = events.policy_action
    return service


def later(ssm: Harness, bus: Bus, delta: timedelta) -> ParameterService:
    """The app's service's store and sealer under a clock ``delta`` ahead."""
    service = ssm.app.service
    moment = datetime.now(UTC) + delta
    return told(ssm, bus, ParameterService(service.store, service._sealer, service.limits,
                                           lambda: moment))  # fmt: skip


def actor(ssm: Harness) -> Actor:
    """The tenant's root, every action allowed (the service under test, not IAM)."""

    async def allowed(action: str, arn: str | None) -> None:
        return None

    return Actor(ssm.tenant_id, ssm.region, f"arn:aws:iam::{ssm.tenant_id}:root", allowed)


def policies(*items: tuple[str, dict[str, str]]) -> str:
    return json.dumps([{"Type": t, "Version": "1.0", "Attributes": a} for t, a in items])


async def test_notifications_are_sent_once_each(ssm: Harness) -> None:
    bus = Bus()
    told(ssm, bus)
    expires = (datetime.now(UTC) + timedelta(days=10)).isoformat()
    written = policies(
        ("Expiration", {"Timestamp": expires}),
        ("ExpirationNotification", {"Before": "2", "Unit": "Days"}),
        ("NoChangeNotification", {"After": "36", "Unit": "Hours"}),
    )
    await ssm.ok("PutParameter", {"Name": "/db/pw", "Value": "v", "Type": "String",
                                  "Tier": "Advanced", "Policies": written})  # fmt: skip
    [change] = [e for _, _, e in bus.sent]
    assert (change["source"], change["detail-type"]) == ("aws.ssm", "Parameter Store Change")
    assert change["detail"] == {"operation": "Create", "name": "/db/pw", "type": "String"}
    assert change["resources"] == [f"arn:aws:ssm:eu-fr-1:{ssm.tenant_id}:parameter/db/pw"]
    bus.sent.clear()
    assert await take_policy_actions(ssm.app.service) == []  # nothing due yet
    # Two days on: the NoChangeNotification (36 hours), once, even from two gateways.
    two_days = later(ssm, bus, timedelta(days=2))
    rounds = await asyncio.gather(take_policy_actions(two_days), take_policy_actions(two_days))
    assert [a.kind for r in rounds for a in r] == ["NoChangeNotification"]
    assert await take_policy_actions(two_days) == []
    [(account, bus_name, event)] = bus.sent
    assert (account, bus_name, event["detail-type"]) == (
        ssm.tenant_id, "default", "Parameter Store Policy Action",
    )  # fmt: skip
    detail = event["detail"]
    assert (detail["parameter-name"], detail["parameter-type"], detail["policy-type"],
            detail["action-status"]) == ("/db/pw", "String", "NoChangeNotification",
                                         "Finished")  # fmt: skip
    assert json.loads(detail["policy-content"])["Attributes"] == {"After": "36", "Unit": "Hours"}
    bus.sent.clear()
    # Nine days on: the ExpirationNotification (2 days before), once.
    nine_days = later(ssm, bus, timedelta(days=9))
    assert [a.kind for a in await take_policy_actions(nine_days)] == ["ExpirationNotification"]
    assert await take_policy_actions(nine_days) == []
    # A new value then, keeping the policies, resets NoChangeNotification (due 36 hours on),
    # not the ExpirationNotification sent.
    await nine_days.put(actor(ssm), NewValue("/db/pw", "w", overwrite=True))
    assert bus.sent[-1][2]["detail"]["operation"] == "Update"
    assert await take_policy_actions(nine_days) == []
    ten_days = later(ssm, bus, timedelta(days=10, hours=-1))
    assert await take_policy_actions(ten_days) == []
    eleven_days = later(ssm, bus, timedelta(days=11))
    taken = [a.kind for a in await take_policy_actions(eleven_days)]
    assert taken == ["Expiration"]  # at ten days: the NoChangeNotification never came
    await ssm.fails("GetParameter", {"Name": "/db/pw"}, "ParameterNotFound")
    assert [e["detail"]["policy-type"] for _, _, e in bus.sent
            if e["detail-type"] == "Parameter Store Policy Action"] == [
        "ExpirationNotification", "Expiration",
    ]  # fmt: skip


async def test_notification_policies_need_the_advanced_tier(ssm: Harness) -> None:
    notify = policies(("NoChangeNotification", {"After": "1", "Unit": "Days"}))
    await ssm.fails("PutParameter", {"Name": "/n", "Value": "v", "Type": "String",
                                     "Policies": notify}, "ValidationException")  # fmt: skip
    asked = {"Name": "/n", "Value": "v", "Type": "String", "Policies": notify}
    made = await ssm.ok("PutParameter", {**asked, "Tier": "Intelligent-Tiering"})
    assert made["Tier"] == "Advanced"
    [described] = (await ssm.ok("DescribeParameters"))["Parameters"]
    assert [p["PolicyType"] for p in described["Policies"]] == ["NoChangeNotification"]
    twice = policies(("NoChangeNotification", {"After": "1", "Unit": "Days"}),
                     ("NoChangeNotification", {"After": "2", "Unit": "Days"}))  # fmt: skip
    await ssm.fails("PutParameter", {"Name": "/n", "Value": "v", "Overwrite": True,
                                     "Policies": twice}, "IncompatiblePolicyException")  # fmt: skip


async def test_every_change_is_told(ssm: Harness) -> None:
    bus = Bus()
    told(ssm, bus)
    await ssm.ok("PutParameter", {"Name": "/c", "Value": "v", "Type": "String",
                                  "Description": "the c"})  # fmt: skip
    await ssm.ok("LabelParameterVersion", {"Name": "/c", "Labels": ["prod"]})
    await ssm.ok("DeleteParameters", {"Names": ["/c", "/none"]})
    details = [e["detail"] for _, _, e in bus.sent]
    assert details == [
        {"operation": "Create", "name": "/c", "type": "String", "description": "the c"},
        {"operation": "LabelParameterVersion", "name": "/c", "type": "String",
         "description": "the c", "labels": ["prod"]},
        {"operation": "Delete", "name": "/c", "type": "String", "description": "the c"},
    ]  # fmt: skip

    async def broken(tenant_id: str, bus_name: str, events: list[dict[str, Any]]) -> int:
        raise RuntimeError("the bus is down")

    bus.route = broken  # type: ignore[method-assign]
    # A change is written even when its event cannot be sent (AWS's best effort).
    assert (await ssm.ok("PutParameter", {"Name": "/d", "Value": "v", "Type": "String"}))[
        "Version"
    ] == 1


async def test_a_policy_whose_action_ran_is_shown_finished(ssm: Harness) -> None:
    """Decision 0249's addendum to 0241: PolicyStatus Finished once a policy's action ran."""
    bus = Bus()
    told(ssm, bus)
    expires = (datetime.now(UTC) + timedelta(days=10)).isoformat()
    written = policies(
        ("Expiration", {"Timestamp": expires}),
        ("ExpirationNotification", {"Before": "2", "Unit": "Days"}),
        ("NoChangeNotification", {"After": "36", "Unit": "Hours"}),
    )
    await ssm.ok("PutParameter", {"Name": "/f/pw", "Value": "v", "Type": "String",
                                  "Tier": "Advanced", "Policies": written})  # fmt: skip

    async def statuses() -> tuple[dict[str, str], list[dict[str, str]]]:
        [described] = (await ssm.ok("DescribeParameters"))["Parameters"]
        history = (await ssm.ok("GetParameterHistory", {"Name": "/f/pw"}))["Parameters"]
        shown = [{p["PolicyType"]: p["PolicyStatus"] for p in h["Policies"]} for h in history]
        assert shown[-1] == {p["PolicyType"]: p["PolicyStatus"] for p in described["Policies"]}
        return shown[-1], shown[:-1]

    pending = {"Expiration": "Pending", "ExpirationNotification": "Pending",
               "NoChangeNotification": "Pending"}  # fmt: skip
    assert await statuses() == (pending, [])
    await take_policy_actions(later(ssm, bus, timedelta(days=2)))
    assert await statuses() == ({**pending, "NoChangeNotification": "Finished"}, [])
    nine_days = later(ssm, bus, timedelta(days=9))
    await take_policy_actions(nine_days)
    both = {**pending, "ExpirationNotification": "Finished", "NoChangeNotification": "Finished"}
    assert await statuses() == (both, [])
    # A new version keeping the policies counts NoChangeNotification again; the
    # ExpirationNotification sent stays sent. The older version's policies act no more.
    await nine_days.put(actor(ssm), NewValue("/f/pw", "w", overwrite=True))
    assert await statuses() == ({**pending, "ExpirationNotification": "Finished"}, [pending])
