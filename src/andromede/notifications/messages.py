"""What SNS checks of a published message, and whether a subscription's filter policy lets
it through (decision 0163). Pure: no I/O."""

from __future__ import annotations

import json
from collections.abc import Mapping

from andromede.notifications.errors import InvalidTopic
from andromede.notifications.filterpolicy import Attribute, matches
from andromede.notifications.subscriptions import Subscription

__all__ = ["check_publish", "passes"]


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
