"""The attachment states' pure step (decision 0201): a target group's attachment Adding
until every serving instance is registered (draining is not registered), Added, InService
once one passes its health check (and kept so), Removing until the target group holds none
of the group's instances or is gone; what an attach or detach makes of them; the states in
the group's document, an older document's attachments read Added."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from andromede.autoscaling.model import Group, Member
from andromede.autoscaling.traffic import advanced, listed, serving, with_target_groups

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
A = "arn:aws:elasticloadbalancing:eu-fr-1:t1:targetgroup/a/0123456789abcdef"
B = "arn:aws:elasticloadbalancing:eu-fr-1:t1:targetgroup/b/0123456789abcdef"


def member(instance_id: str, state: str = "running") -> Member:
    return Member(instance_id, state, NOW, "eu-fr-1a", None, None, None, "t3.nano")


GROUP = Group(
    tenant_id="t1",
    name="web",
    group_id="g",
    template_id="lt-1",
    template_name="web",
    template_version="$Latest",
    min_size=0,
    max_size=9,
    desired_capacity=3,
    subnets=(),
    created_at=NOW,
    target_groups=(A,),
    attachment_states=((A, "Adding"),),
    standby=("i-standby",),
)
MEMBERS = [member("i-1"), member("i-2"), member("i-standby"), member("i-new", "pending")]


def test_adding_added_in_service() -> None:
    assert serving(GROUP, MEMBERS) == ["i-1", "i-2"]
    assert serving(replace(GROUP, warmed=("i-2",)), MEMBERS) == ["i-1"]
    one_missing = {A: {"i-1": "initial"}}
    assert advanced(GROUP, MEMBERS, one_missing) == ((A, "Adding"),)
    draining = {A: {"i-1": "initial", "i-2": "draining"}}
    assert advanced(GROUP, MEMBERS, draining) == ((A, "Adding"),)
    registered = {A: {"i-1": "initial", "i-2": "unused"}}
    added = replace(GROUP, attachment_states=advanced(GROUP, MEMBERS, registered))
    assert listed(added) == [(A, "Added")]
    # Registered and one healthy in the same step: both moves at once.
    healthy = {A: {"i-1": "healthy", "i-2": "initial"}}
    assert advanced(GROUP, MEMBERS, healthy) == ((A, "InService"),)
    # An instance not serving (Standby) passing its check does not count.
    aside = {A: {"i-1": "initial", "i-2": "initial", "i-standby": "healthy"}}
    assert advanced(added, MEMBERS, aside) == ((A, "Added"),)
    in_service = replace(GROUP, attachment_states=((A, "InService"),))
    assert advanced(in_service, MEMBERS, {A: {"i-1": "unhealthy"}}) == ((A, "InService"),)
    # An empty group's attachment is Added at once; a target group gone keeps the state;
    # one not looked at keeps it.
    assert advanced(GROUP, [], {A: {}}) == ((A, "Added"),)
    assert advanced(GROUP, MEMBERS, {A: None}) == ((A, "Adding"),)
    assert advanced(GROUP, MEMBERS, {}) == ((A, "Adding"),)


def test_removing_until_drained_or_gone() -> None:
    group = with_target_groups(GROUP, (B,))
    assert group is not None
    assert listed(group) == [(B, "Adding"), (A, "Removing")]
    assert group.target_groups == (B,)
    view = {B: {"i-1": "initial", "i-2": "initial"}, A: {"i-2": "draining"}}
    assert advanced(group, MEMBERS, view) == ((B, "Added"), (A, "Removing"))
    # Its draining targets are not the group's any more (another instance's): it leaves.
    assert advanced(group, MEMBERS, {A: {"i-other": "draining"}}) == ((B, "Adding"),)
    assert advanced(group, MEMBERS, {A: None}) == ((B, "Adding"),)
    # Attached again while Removing: Adding; nothing to change: None.
    again = with_target_groups(group, (B, A))
    assert again is not None and listed(again) == [(B, "Adding"), (A, "Adding")]
    assert with_target_groups(again, (B, A)) is None
    created = with_target_groups(replace(GROUP, target_groups=()), (A,), joined="InService")
    assert created is not None and listed(created) == [(A, "InService")]


def test_the_states_in_the_document() -> None:
    group = with_target_groups(GROUP, (B,))
    assert group is not None
    assert Group.from_document(group.document(), 3) == replace(group, revision=3)
    # A document written before decision 0201: its target groups read Added.
    older = replace(GROUP, attachment_states=())
    document = older.document().replace(', "attachment_states": []', "")
    assert "attachment_states" not in document
    assert listed(Group.from_document(document, 0)) == [(A, "Added")]
