"""What SNS checks of a published message, whether a subscription's filter policy lets it
through (decision 0163), and the subject SNS gives a queued event (S3's, decision 0132; EC2
Auto Scaling's, decision 0188). Pure: no I/O."""

from __future__ import annotations

import json
from collections.abc import Mapping

from andromede.notifications.errors import InvalidTopic
from andromede.notifications.filterpolicy import Attribute, matches
from andromede.notifications.subscriptions import Subscription

__all__ = ["check_publish", "event_subject", "passes"]

S3_SUBJECT = "Amazon S3 Notification"
# EC2 Auto Scaling's subjects, by the message's Event: 'Auto Scaling: launch for group "G"'.
_SCALING_SUBJECTS = {
    "autoscaling:EC2_INSTANCE_LAUNCH": "launch",
    "autoscaling:EC2_INSTANCE_LAUNCH_ERROR": "launch error",
    "autoscaling:EC2_INSTANCE_TERMINATE": "termination",
    "autoscaling:EC2_INSTANCE_TERMINATE_ERROR": "termination error",
    "autoscaling:TEST_NOTIFICATION": "test notification",
}


def event_subject(message: str) -> str | None:
    """The subject of an event queued for a topic's subscriptions: S3's for its events,
    Auto Scaling's for a group's notifications, none for the others (lifecycle actions)."""
    if '"Records"' in message or '"s3:TestEvent"' in message:
        return S3_SUBJECT
    if '"AWS Auto Scaling"' not in message:
        return None
    try:
        body = json.loads(message)
    except ValueError:
        return None
    if not isinstance(body, dict) or body.get("Service") != "AWS Auto Scaling":
        return None
    what = _SCALING_SUBJECTS.get(str(body.get("Event")))
    group = body.get("AutoScalingGroupName")
    if what is None or not isinstance(group, str):
        return None
    return f'Auto Scaling: {what} for group "{group}"'


def passes(
    subscription: Subscription, message: str, attributes: Mapping[str, tuple[str, str]]
) -> bool:
    policy = subscription.filter_policy
    if policy is None:
        return True
    if subscription.filter_scope == "MessageBody":
        try:
            body = json.loads(message)
        except ValueError:
            return False
        return matches(policy, body=body)
    return matches(policy, attributes=_matchable(attributes))


def _matchable(attributes: Mapping[str, tuple[str, str]]) -> dict[str, Attribute]:
    found: dict[str, Attribute] = {}
    for name, (kind, value) in attributes.items():
        family = kind.split(".", 1)[0] if kind != "String.Array" else "Array"
        if family == "Array":
            try:
                found[name] = ("Array", json.loads(value))
            except ValueError:
                continue
        else:
            found[name] = (family, value)
    return found


def check_publish(
    message: str,
    subject: str | None,
    attributes: Mapping[str, tuple[str, str]],
    structure: str | None,
    limit: int,
) -> None:
    """InvalidTopic (InvalidParameter) for a message SNS would refuse."""
    size = len(message.encode()) + sum(
        len(n.encode()) + len(k.encode()) + len(v.encode()) for n, (k, v) in attributes.items()
    )
    if size > limit:
        raise InvalidTopic(f"Invalid parameter: Message too long (at most {limit} bytes)")
    if not message:
        raise InvalidTopic("Invalid parameter: Empty message")
    if subject is not None and (
        not subject or len(subject) > 100 or not subject.isprintable() or "\n" in subject
    ):
        raise InvalidTopic("Invalid parameter: Subject")
    for name, (kind, value) in attributes.items():
        if kind.split(".", 1)[0] not in ("String", "Number", "Binary") or (
            "." in kind and kind != "String.Array" and not kind.startswith(("String.", "Number."))
        ):
            raise InvalidTopic(f"Invalid parameter: MessageAttributes {name[:64]} DataType")
        if kind == "String.Array":
            try:
                parsed = json.loads(value)
            except ValueError:
                parsed = None
            if not isinstance(parsed, list):
                raise InvalidTopic(f"Invalid parameter: MessageAttributes {name[:64]} array")
        if kind.startswith("Number"):
            try:
                float(value)
            except ValueError as exc:
                raise InvalidTopic(
                    f"Invalid parameter: MessageAttributes {name[:64]} is not a number"
                ) from exc
    if structure is not None:
        if structure != "json":
            raise InvalidTopic("Invalid parameter: MessageStructure")
        try:
            parsed_message = json.loads(message)
        except ValueError:
            parsed_message = None
        if not isinstance(parsed_message, dict) or "default" not in parsed_message:
            raise InvalidTopic(
                "Invalid parameter: Message Structure - No default entry in JSON message body"
            )
