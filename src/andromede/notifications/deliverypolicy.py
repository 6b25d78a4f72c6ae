"""SNS's HTTP/S delivery policies (decision 0168): how often and how fast a subscription's
failed deliveries are tried again, how many a second it receives, and the ``Content-Type``
of its POSTs. Pure: no I/O.

Two documents, as SNS takes them:

- a **subscription's** ``DeliveryPolicy``: ``healthyRetryPolicy`` (``minDelayTarget``,
  ``maxDelayTarget``, ``numRetries``, ``numNoDelayRetries``, ``numMinDelayRetries``,
  ``numMaxDelayRetries``, ``backoffFunction``), ``throttlePolicy``
  (``maxReceivesPerSecond``), ``requestPolicy`` (``headerContentType``);
- a **topic's** ``DeliveryPolicy``: the same under ``{"http": {"defaultHealthyRetryPolicy",
  "defaultThrottlePolicy", "defaultRequestPolicy", "disableSubscriptionOverrides"}}``, the
  defaults of its http and https subscriptions (the subscription's own parts win, unless
  ``disableSubscriptionOverrides``).

The retry schedule has SNS's four phases: ``numNoDelayRetries`` at once, then
``numMinDelayRetries`` ``minDelayTarget`` apart, then the backoff phase (the retries left)
from ``minDelayTarget`` to ``maxDelayTarget`` along ``backoffFunction``, then
``numMaxDelayRetries`` ``maxDelayTarget`` apart. As on SNS the whole schedule may take at
most an hour.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final

from andromede.notifications.errors import InvalidTopic

__all__ = [
    "BACKOFF_FUNCTIONS",
    "CONTENT_TYPES",
    "EffectivePolicy",
    "RateGate",
    "RetryPolicy",
    "check_subscription_policy",
    "check_topic_policy",
    "effective_policy",
]

BACKOFF_FUNCTIONS: Final = ("arithmetic", "exponential", "geometric", "linear")
CONTENT_TYPES: Final = (
    "text/plain",
    "text/plain; charset=UTF-8",
    "application/json",
    "application/json; charset=UTF-8",
    "application/xml",
    "application/xml; charset=UTF-8",
)
DEFAULT_CONTENT_TYPE: Final = "text/plain; charset=UTF-8"
MAX_DELAY: Final = 3600  # seconds: a delay target, and the whole schedule (SNS's hard limit)
MAX_RETRIES: Final = 100
_RETRY_KEYS: Final = {
    "minDelayTarget": "min_delay",
    "maxDelayTarget": "max_delay",
    "numRetries": "retries",
    "numNoDelayRetries": "no_delay_retries",
    "numMinDelayRetries": "min_delay_retries",
    "numMaxDelayRetries": "max_delay_retries",
}
# Parts SNS shows in its documents and takes back unchanged, meaning nothing here.
_INERT: Final = ("sicklyRetryPolicy", "guaranteed")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """A ``healthyRetryPolicy``; the defaults are SNS's (three retries 20 seconds apart)."""

    min_delay: int = 20
    max_delay: int = 20
    retries: int = 3
    no_delay_retries: int = 0
    min_delay_retries: int = 0
    max_delay_retries: int = 0
    backoff: str = "linear"

    @property
    def backoff_retries(self) -> int:
        return (
            self.retries - self.no_delay_retries - self.min_delay_retries - self.max_delay_retries
        )

    def delay(self, retry: int) -> float:
        """Seconds to wait before retry number ``retry`` (1 to ``retries``)."""
        if retry <= self.no_delay_retries:
            return 0.0
        retry -= self.no_delay_retries
        if retry <= self.min_delay_retries:
            return float(self.min_delay)
        retry -= self.min_delay_retries
        steps = self.backoff_retries
        if retry <= steps:
            share = _shape(self.backoff, retry / steps)
            return self.min_delay + (self.max_delay - self.min_delay) * share
        return float(self.max_delay)

    def schedule(self) -> list[float]:
        return [self.delay(n) for n in range(1, self.retries + 1)]

    def document(self) -> dict[str, object]:
        shown: dict[str, object] = {
            wire: getattr(self, field) for wire, field in _RETRY_KEYS.items()
        }
        shown["backoffFunction"] = self.backoff
        return shown


def _shape(function: str, t: float) -> float:
    """How far along the backoff phase's delays are at ``t`` (0 to 1): SNS publishes the
    four curves as a graph, not as formulas; these draw the same shapes (geometric rises
    first, exponential last, arithmetic between them and linear)."""
    if function == "linear":
        return t
    if function == "arithmetic":
        return t * t
    if function == "geometric":
        return math.sqrt(t)
    return (math.pow(2.0, 10 * t) - 1) / (math.pow(2.0, 10) - 1)


@dataclass(frozen=True, slots=True)
class EffectivePolicy:
    """What the delivery worker applies to one http(s) subscription."""

    retry: RetryPolicy
    max_per_second: int | None = None
    content_type: str = DEFAULT_CONTENT_TYPE
    # Whether ``retry`` comes from a DeliveryPolicy; False: the platform's schedule, which
    # the worker then keeps exactly (``retry`` only shows it in SNS's terms).
    custom_retry: bool = True

    def document(self) -> str:
        """SNS's ``EffectiveDeliveryPolicy`` of a subscription."""
        shown: dict[str, object] = {
            "healthyRetryPolicy": self.retry.document(),
            "sicklyRetryPolicy": None,
            "throttlePolicy": (
                None
                if self.max_per_second is None
                else {"maxReceivesPerSecond": self.max_per_second}
            ),
            "requestPolicy": {"headerContentType": self.content_type},
            "guaranteed": False,
        }
        return json.dumps(shown, separators=(",", ":"))

    def topic_document(self) -> str:
        """SNS's ``EffectiveDeliveryPolicy`` of a topic: its http(s) defaults."""
        http: dict[str, object] = {
            "defaultHealthyRetryPolicy": self.retry.document(),
            "sicklyRetryPolicy": None,
            "throttlePolicy": None,
            "defaultRequestPolicy": {"headerContentType": self.content_type},
            "disableSubscriptionOverrides": False,
        }
        if self.max_per_second is not None:
            http["defaultThrottlePolicy"] = {"maxReceivesPerSecond": self.max_per_second}
        return json.dumps({"http": http}, separators=(",", ":"))


def _invalid(detail: str) -> InvalidTopic:
    return InvalidTopic(f"Invalid parameter: DeliveryPolicy: {detail}")


def _object(value: object, where: str) -> Mapping[str, object] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _invalid(f"{where} must be an object")
    return value


def _integer(value: object, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _invalid(f"{where} must be an integer")
    return value


def _retry(data: Mapping[str, object] | None, base: RetryPolicy, where: str) -> RetryPolicy:
    if data is None:
        return base
    values: dict[str, object] = {}
    for key, value in data.items():
        if key in _RETRY_KEYS:
            values[_RETRY_KEYS[key]] = _integer(value, f"{where}.{key}")
        elif key == "backoffFunction":
            if not isinstance(value, str) or value.lower() not in BACKOFF_FUNCTIONS:
                raise _invalid(f"{where}.backoffFunction must be one of "
                               + ", ".join(BACKOFF_FUNCTIONS))  # fmt: skip
            values["backoff"] = value.lower()
        else:
            raise _invalid(f"unknown field {where}.{key[:64]}")
    policy = RetryPolicy(**values)  # type: ignore[arg-type]
    _check_retry(policy, where)
    return policy


def _check_retry(policy: RetryPolicy, where: str) -> None:
    if not 1 <= policy.min_delay <= policy.max_delay:
        raise _invalid(f"{where}.minDelayTarget must be at least 1 and at most maxDelayTarget")
    if policy.max_delay > MAX_DELAY:
        raise _invalid(f"{where}.maxDelayTarget must be at most {MAX_DELAY}")
    if not 0 <= policy.retries <= MAX_RETRIES:
        raise _invalid(f"{where}.numRetries must be between 0 and {MAX_RETRIES}")
    if min(policy.no_delay_retries, policy.min_delay_retries, policy.max_delay_retries) < 0:
        raise _invalid(f"{where}: the number of retries of a phase must not be negative")
    if policy.backoff_retries < 0:
        raise _invalid(
            f"{where}.numRetries must be at least numNoDelayRetries + numMinDelayRetries + "
            "numMaxDelayRetries"
        )
    if sum(policy.schedule()) > MAX_DELAY:
        raise _invalid(f"{where}: the retries may take at most {MAX_DELAY} seconds in all")


def _throttle(data: Mapping[str, object] | None, where: str) -> int | None:
    if data is None:
        return None
    unknown = set(data) - {"maxReceivesPerSecond"}
    if unknown:
        raise _invalid(f"unknown field {where}.{sorted(unknown)[0][:64]}")
    if "maxReceivesPerSecond" not in data:
        return None
    rate = _integer(data["maxReceivesPerSecond"], f"{where}.maxReceivesPerSecond")
    if rate < 1:
        raise _invalid(f"{where}.maxReceivesPerSecond must be at least 1")
    return rate


def _request(data: Mapping[str, object] | None, where: str) -> str | None:
    if data is None:
        return None
    unknown = set(data) - {"headerContentType"}
    if unknown:
        raise _invalid(f"unknown field {where}.{sorted(unknown)[0][:64]}")
    value = data.get("headerContentType")
    if value is None:
        return None
    if value not in CONTENT_TYPES:
        raise _invalid(f"{where}.headerContentType must be one of " + ", ".join(CONTENT_TYPES))
    return str(value)


def _parse(text: str) -> Mapping[str, object]:
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise _invalid("not JSON") from exc
    if not isinstance(data, dict):
        raise _invalid("must be a JSON object")
    return data


@dataclass(frozen=True, slots=True)
class _Parts:
    retry: RetryPolicy | None
    max_per_second: int | None
    content_type: str | None
    overrides_disabled: bool = False


def _subscription_parts(text: str) -> _Parts:
    data = _parse(text)
    for key in data:
        if key not in ("healthyRetryPolicy", "throttlePolicy", "requestPolicy", *_INERT):
            raise _invalid(f"unknown field {key[:64]}")
    healthy = _object(data.get("healthyRetryPolicy"), "healthyRetryPolicy")
    return _Parts(
        None if healthy is None else _retry(healthy, RetryPolicy(), "healthyRetryPolicy"),
        _throttle(_object(data.get("throttlePolicy"), "throttlePolicy"), "throttlePolicy"),
        _request(_object(data.get("requestPolicy"), "requestPolicy"), "requestPolicy"),
    )


def _topic_parts(text: str) -> _Parts:
    data = _parse(text)
    for key in data:
        if key != "http":
            raise _invalid(f"only the http protocol's policy can be set, not {key[:32]}")
    http = _object(data.get("http"), "http") or {}
    known = (
        "defaultHealthyRetryPolicy",
        "defaultThrottlePolicy",
        "defaultRequestPolicy",
        "disableSubscriptionOverrides",
        "throttlePolicy",
        *_INERT,
    )
    for key in http:
        if key not in known:
            raise _invalid(f"unknown field http.{key[:64]}")
    where = "http.defaultHealthyRetryPolicy"
    healthy = _object(http.get("defaultHealthyRetryPolicy"), where)
    disabled = http.get("disableSubscriptionOverrides", False)
    if not isinstance(disabled, bool):
        raise _invalid("http.disableSubscriptionOverrides must be true or false")
    throttle_where = "http.defaultThrottlePolicy"
    request_where = "http.defaultRequestPolicy"
    return _Parts(
        None if healthy is None else _retry(healthy, RetryPolicy(), where),
        _throttle(_object(http.get("defaultThrottlePolicy"), throttle_where), throttle_where),
        _request(_object(http.get("defaultRequestPolicy"), request_where), request_where),
        disabled,
    )


def check_subscription_policy(text: str) -> str:
    """The subscription's DeliveryPolicy as kept; InvalidTopic (InvalidParameter) otherwise."""
    _subscription_parts(text)
    return text


def check_topic_policy(text: str) -> str:
    """The topic's DeliveryPolicy as kept; InvalidTopic (InvalidParameter) otherwise."""
    _topic_parts(text)
    return text


def effective_policy(
    topic_policy: str | None, subscription_policy: str | None, default: RetryPolicy
) -> EffectivePolicy:
    """What applies to an http(s) subscription: its own parts, else its topic's, else
    ``default`` (the platform's schedule); the topic's alone when it disables overrides.
    Documents stored before being checked count as absent."""
    topic = _kept(_topic_parts, topic_policy)
    own = None if topic is not None and topic.overrides_disabled else subscription_policy
    mine = _kept(_subscription_parts, own)
    layers = [part for part in (mine, topic) if part is not None]
    retry = next((p.retry for p in layers if p.retry is not None), None)
    rate = next((p.max_per_second for p in layers if p.max_per_second is not None), None)
    content = next((p.content_type for p in layers if p.content_type is not None), None)
    return EffectivePolicy(
        retry or default, rate, content or DEFAULT_CONTENT_TYPE, custom_retry=retry is not None
    )


def _kept(parse: Callable[[str], _Parts], text: str | None) -> _Parts | None:
    if not text:
        return None
    try:
        return parse(text)
    except InvalidTopic:
        return None


class RateGate:
    """Each subscription's next free moment under its ``maxReceivesPerSecond``, in this
    gateway: a POST takes the next slot and waits for it (the delivery worker's; the only
    clock of this module, no I/O)."""

    def __init__(self) -> None:
        self._next: dict[str, float] = {}

    def turn(self, key: str, per_second: float) -> float:
        """Take the next slot of ``key``: seconds to wait for it."""
        now = time.monotonic()
        slot = max(now, self._next.get(key, now))
        self._next[key] = slot + 1.0 / per_second
        if len(self._next) > 10_000:  # forget the idle ones
            self._next = {k: v for k, v in self._next.items() if v > now}
        return slot - now
