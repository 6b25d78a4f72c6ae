"""The pure core of CloudWatch metric alarms (decision 0177): an alarm's definition and state,
the checks PutMetricAlarm makes, and :func:`evaluate`, AWS's M-of-N rule with its four
treatments of missing data.

An alarm watches one series' statistic, or a metric math expression over several
(``metrics``, decision 0183), over ``period``-long periods. At each period's end the
evaluator reads the last ``evaluation_periods`` periods (None where no datapoint came in) and
:func:`evaluate` decides the state:

- ``breaching`` / ``notBreaching``: a missing period counts as breaching / not breaching;
  then ``datapoints_to_alarm`` breaching periods or more is ALARM, fewer is OK;
- ``missing`` / ``ignore``: missing periods are left out. None present: ``missing`` goes to
  INSUFFICIENT_DATA, ``ignore`` keeps the state. Enough breaching present: ALARM. Fewer
  periods present than ``datapoints_to_alarm``, all of them breaching: ALARM for
  ``missing``, the state kept for ``ignore`` (AWS's table: ``- - X - -`` with 3 of 5).
  Otherwise OK.

The periods evaluated are picked by :func:`lookback` from a longer evaluation range, as AWS
does (decision 0189); an anomaly detection alarm compares each value with its period's band
(``BAND_COMPARISONS``) rather than with ``threshold``.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Final

from andromede.metrics.errors import (
    InvalidParameterCombination,
    InvalidParameterValue,
    MissingParameter,
)
from andromede.metrics.model import STATISTICS, UNITS, percentile_of
from andromede.metrics.service import DataQuery

__all__ = [
    "BAND_COMPARISONS",
    "COMPARISONS",
    "FORMAT_VERSION",
    "LOW_SAMPLE",
    "MISSING_DATA",
    "Alarm",
    "AlarmState",
    "Evaluation",
    "HistoryItem",
    "alarm_arn",
    "breaches",
    "check_actions",
    "check_alarm",
    "evaluate",
    "lookback",
    "next_evaluation",
    "query_document",
]

FORMAT_VERSION: Final = 1


class AlarmState(StrEnum):
    OK = "OK"
    ALARM = "ALARM"
    INSUFFICIENT_DATA = "INSUFFICIENT_DATA"


COMPARISONS: Final = {
    "GreaterThanOrEqualToThreshold": ">=",
    "GreaterThanThreshold": ">",
    "LessThanThreshold": "<",
    "LessThanOrEqualToThreshold": "<=",
}
# Anomaly detection's operators (decision 0189): a value against a band's edges, the band
# the alarm's ThresholdMetricId query.
BAND_COMPARISONS: Final = {
    "LessThanLowerOrGreaterThanUpperThreshold": "<>",
    "LessThanLowerThreshold": "<",
    "GreaterThanUpperThreshold": ">",
}
LOW_SAMPLE: Final = ("evaluate", "ignore")
MISSING_DATA: Final = ("missing", "ignore", "breaching", "notBreaching")
_PERIODS_UNDER_A_MINUTE: Final = (10, 20, 30)
_NAME_LENGTH: Final = 255
_ACTIONS_PER_STATE: Final = 5
_SNS_ARN: Final = re.compile(r"^arn:aws:sns:([a-z0-9-]+):(\d{12}|[A-Za-z0-9]+):[\w.-]{1,256}$")
_POLICY_ARN: Final = re.compile(
    r"^arn:aws:autoscaling:([a-z0-9-]+):([A-Za-z0-9]+):scalingPolicy:[0-9a-f-]{36}:"
    r"autoScalingGroupName/[^:]{1,255}:policyName/[^:]{1,255}$"
)


def alarm_arn(region: str, tenant_id: str, name: str) -> str:
    return f"arn:aws:cloudwatch:{region}:{tenant_id}:alarm:{name}"


@dataclass(frozen=True, slots=True)
class Alarm:
    """One metric alarm of an account: its definition, as PutMetricAlarm gave it, and its
    state, as the evaluator (or SetAlarmState) last set it."""

    tenant_id: str
    name: str
    namespace: str
    metric_name: str
    dimensions: tuple[tuple[str, str], ...]
    period: int
    evaluation_periods: int
    datapoints_to_alarm: int
    threshold: float
    comparison: str
    statistic: str | None = None
    extended_statistic: str | None = None
    unit: str | None = None
    treat_missing_data: str = "missing"
    description: str | None = None
    actions_enabled: bool = True
    alarm_actions: tuple[str, ...] = ()
    ok_actions: tuple[str, ...] = ()
    insufficient_data_actions: tuple[str, ...] = ()
    tags: tuple[tuple[str, str], ...] = ()
    # A metric math alarm's queries (decision 0183): one ReturnData query, the rest what it
    # reads; the alarm then has no namespace, metric or statistic of its own.
    metrics: tuple[DataQuery, ...] = ()
    # Whether PutMetricAlarm named DatapointsToAlarm: DescribeAlarms shows it only then, as
    # AWS does (else Terraform, which did not send it, plans to remove it at every run).
    datapoints_given: bool = True
    # A composite alarm's rule (decision 0184): the alarm then watches no metric; its
    # ActionsSuppressor alarm and that one's wait and extension periods (seconds).
    rule: str | None = None
    suppressor: str | None = None
    suppressor_wait: int = 60
    suppressor_extension: int = 60
    # An anomaly detection alarm's band (decision 0189): the Id of its Metrics' query giving
    # ANOMALY_DETECTION_BAND, its comparison one of BAND_COMPARISONS and no Threshold.
    threshold_metric_id: str | None = None
    # EvaluateLowSampleCountPercentile: "ignore" keeps the state while a percentile has too
    # few samples to mean much (decision 0189).
    evaluate_low_sample: str = "evaluate"
    state: AlarmState = AlarmState.INSUFFICIENT_DATA
    state_reason: str = "Unchecked: Initial alarm creation"
    state_reason_data: str | None = None
    state_updated: datetime = field(default_factory=lambda: datetime.now(UTC))
    configuration_updated: datetime = field(default_factory=lambda: datetime.now(UTC))
    # The epoch second of the next evaluation (a period's end); gateways claim it by a
    # conditional write, so one of them evaluates each period.
    next_evaluation: int = 0
    format_version: int = FORMAT_VERSION
    revision: int = 0

    @property
    def composite(self) -> bool:
        return self.rule is not None

    @property
    def stat(self) -> str:
        return self.statistic or self.extended_statistic or "Average"

    def actions_for(self, state: AlarmState) -> tuple[str, ...]:
        if state is AlarmState.ALARM:
            return self.alarm_actions
        if state is AlarmState.OK:
            return self.ok_actions
        return self.insufficient_data_actions

    def document(self) -> str:
        data = asdict(self)
        for key in ("state_updated", "configuration_updated"):
            data[key] = getattr(self, key).isoformat()
        data["state"] = self.state.value
        for key in ("revision", "tenant_id", "name", "next_evaluation"):
            del data[key]
        return json.dumps(data, sort_keys=True)

    @classmethod
    def from_document(
        cls, tenant_id: str, name: str, document: str, next_evaluation: int, revision: int
    ) -> Alarm:
        data: dict[str, Any] = json.loads(document)
        for key in ("state_updated", "configuration_updated"):
            data[key] = datetime.fromisoformat(data[key])
        data["state"] = AlarmState(data["state"])
        for key in ("alarm_actions", "ok_actions", "insufficient_data_actions"):
            data[key] = tuple(data[key])
        data["dimensions"] = tuple(tuple(d) for d in data["dimensions"])
        data["tags"] = tuple(tuple(t) for t in data["tags"])
        data["metrics"] = tuple(
            DataQuery(**{**q, "dimensions": tuple(tuple(d) for d in q["dimensions"])})
            for q in data.get("metrics", ())
        )
        return cls(
            tenant_id=tenant_id,
            name=name,
            next_evaluation=next_evaluation,
            revision=revision,
            **data,
        )


@dataclass(frozen=True, slots=True)
class HistoryItem:
    """One line of DescribeAlarmHistory: a state change (or a configuration update)."""

    tenant_id: str
    alarm_name: str
    timestamp: datetime
    item_type: str  # StateUpdate, ConfigurationUpdate, Action
    summary: str
    data: str


@dataclass(frozen=True, slots=True)
class Evaluation:
    state: AlarmState
    reason: str
    # The periods' values read, newest last (None: no datapoint); the breaching ones' count.
    values: tuple[float | None, ...]
    breaching: int


def next_evaluation(now: float, period: int) -> int:
    """The end of the period ``now`` falls in: when the alarm is evaluated next."""
    second = math.floor(now)
    return second - second % period + period


def breaches(alarm: Alarm, value: float, band: tuple[float, float] | None = None) -> bool:
    """Whether ``value`` breaches the threshold, or for an anomaly detection alarm the
    period's ``band`` (lower, upper)."""
    if band is not None:
        side = BAND_COMPARISONS[alarm.comparison]
        below, above = value < band[0], value > band[1]
        return (below or above) if side == "<>" else below if side == "<" else above
    operator = COMPARISONS[alarm.comparison]
    if operator == ">=":
        return value >= alarm.threshold
    if operator == ">":
        return value > alarm.threshold
    if operator == "<":
        return value < alarm.threshold
    return value <= alarm.threshold


def _number(value: float) -> str:
    return repr(float(value))


def lookback(values: Sequence[float | None], periods: int) -> list[int | None]:
    """AWS's evaluation range (decision 0189): of the periods read (oldest first, more than
    ``periods`` of them), the ones evaluated, as indexes (None: a missing datapoint filled in
    by TreatMissingData). As many datapoints present as ``periods`` or more: the most recent
    ``periods`` of them, however far back, and missing ones do not count. Fewer: all of
    them, and missing datapoints filled in as few times as possible."""
    present = [i for i, v in enumerate(values) if v is not None]
    if len(present) >= periods:
        return list(present[-periods:])
    return [None] * (periods - len(present)) + list(present)


def evaluate(
    alarm: Alarm,
    values: Sequence[float | None],
    bands: Sequence[tuple[float, float] | None] | None = None,
) -> Evaluation:
    """The state the last ``evaluation_periods`` periods' ``values`` (oldest first) put the
    alarm in; the state is kept (the alarm's own) where AWS's rules keep it. An anomaly
    detection alarm's ``bands`` are each period's; a period without a band (the model not
    trained) counts as missing."""
    if bands is not None:
        values = [v if b is not None else None for v, b in zip(values, bands, strict=True)]
    edges = list(bands) if bands is not None else [None] * len(values)
    needed = alarm.datapoints_to_alarm
    present = [v for v in values if v is not None]
    breaching = sum(
        1 for v, b in zip(values, edges, strict=True) if v is not None and breaches(alarm, v, b)
    )
    treat = alarm.treat_missing_data
    missing = len(values) - len(present)
    if treat == "breaching":
        breaching += missing
    shown = "[" + ", ".join(_number(v) for v in reversed(present)) + "]"
    kept = tuple(values)
    if not present and treat in ("missing", "ignore"):
        if treat == "ignore":
            return Evaluation(alarm.state, alarm.state_reason, kept, 0)
        return Evaluation(
            AlarmState.INSUFFICIENT_DATA,
            f"Insufficient Data: {len(values)} datapoints were unknown.",
            kept,
            0,
        )
    operator = _words(alarm.comparison.replace("Threshold", " the threshold"))
    limit = _number(alarm.threshold)
    if bands is not None:
        operator = _BAND_WORDS[BAND_COMPARISONS[alarm.comparison]]
        latest = next((b for b in reversed(edges) if b is not None), None)
        limit = "" if latest is None else f"{_number(latest[0])}, {_number(latest[1])}"
    if breaching >= needed or (
        treat == "missing" and len(present) < needed and breaching == len(present)
    ):
        return Evaluation(
            AlarmState.ALARM,
            f"Threshold Crossed: {breaching} out of the last {len(values)} datapoints "
            f"{shown} {'were' if breaching != 1 else 'was'} {operator} "
            f"({limit}) (minimum {needed} datapoint"
            f"{'s' if needed != 1 else ''} for OK -> ALARM transition).",
            kept,
            breaching,
        )
    if treat == "ignore" and len(present) < needed and breaching == len(present):
        return Evaluation(alarm.state, alarm.state_reason, kept, breaching)
    first = present[-1] if present else None
    return Evaluation(
        AlarmState.OK,
        f"Threshold Crossed: {len(values) - breaching} out of the last {len(values)} "
        f"datapoints {'[' + _number(first) + ']' if first is not None else '[]'} was not "
        f"{operator} ({limit}) (minimum 1 datapoint for ALARM -> "
        "OK transition).",
        kept,
        breaching,
    )


_BAND_WORDS: Final = {
    "<>": "outside the band",
    "<": "less than the band's lower edge",
    ">": "greater than the band's upper edge",
}


def _words(operator: str) -> str:
    """``GreaterThanOrEqualTo the threshold`` → ``greater than or equal to the threshold``."""
    return re.sub(r"(?<!^)(?=[A-Z])", " ", operator).lower()


def check_actions(
    arns: Sequence[str], where: str, region: str, tenant_id: str, *, scaling: bool
) -> tuple[str, ...]:
    if len(arns) > _ACTIONS_PER_STATE:
        raise InvalidParameterValue(f"{where} may hold at most {_ACTIONS_PER_STATE} actions.")
    for arn in arns:
        sns = _SNS_ARN.match(arn)
        policy = _POLICY_ARN.match(arn) if scaling else None
        found = sns or policy
        if found is None:
            allowed = "SNS topic or Auto Scaling policy ARNs" if scaling else "SNS topic ARNs"
            raise InvalidParameterValue(
                f"Invalid arn syntax: {arn[:256]} ({where} takes {allowed} here; EC2, "
                "Systems Manager and Lambda actions are not supported yet, decision 0177)."
            )
        if found.group(1) != region or found.group(2) != tenant_id:
            raise InvalidParameterValue(
                f"The action {arn[:256]} is not in this account and region."
            )
    return tuple(dict.fromkeys(arns))


def query_document(query: DataQuery) -> dict[str, Any]:
    """A math alarm's query as AWS's MetricDataQuery (DescribeAlarms, the SNS message)."""
    document: dict[str, Any] = {"Id": query.id}
    if query.expression is not None:
        document["Expression"] = query.expression
        if query.period:
            document["Period"] = query.period
    else:
        stat: dict[str, Any] = {
            "Metric": {
                "Namespace": query.namespace,
                "MetricName": query.name,
                "Dimensions": [{"Name": n, "Value": v} for n, v in query.dimensions],
            },
            "Period": query.period,
            "Stat": query.stat,
        }
        if query.unit is not None:
            stat["Unit"] = query.unit
        document["MetricStat"] = stat
    if query.label is not None:
        document["Label"] = query.label
    document["ReturnData"] = query.return_data
    return document


def _math_alarm(alarm: Alarm) -> Alarm:
    """A metric math alarm's own checks (the queries' are the metrics service's); the alarm
    with the period of its ReturnData query, which the evaluator steps by."""
    given = [
        name
        for name, value in (
            ("Namespace", alarm.namespace),
            ("MetricName", alarm.metric_name),
            ("Statistic", alarm.statistic),
            ("ExtendedStatistic", alarm.extended_statistic),
            ("Dimensions", alarm.dimensions),
            ("Unit", alarm.unit),
        )
        if value
    ]
    if given:
        raise InvalidParameterCombination(
            f"The parameters Metrics and {given[0]} are mutually exclusive and you have "
            "specified both."
        )
    returned = [q for q in alarm.metrics if q.return_data]
    if alarm.threshold_metric_id is not None:
        # The band and the metric it is compared with both return data, as AWS wants them.
        band = next((q for q in returned if q.id == alarm.threshold_metric_id), None)
        if band is None or "ANOMALY_DETECTION_BAND" not in (band.expression or ""):
            raise InvalidParameterValue(
                "ThresholdMetricId must be the Id of a ReturnData query whose expression is "
                "ANOMALY_DETECTION_BAND."
            )
        returned = [q for q in returned if q.id != alarm.threshold_metric_id]
    if len(returned) != 1:
        raise InvalidParameterValue(
            "Exactly one element of the Metrics array must have ReturnData set to true"
            + (" besides the band." if alarm.threshold_metric_id else ".")
        )
    period = returned[0].period or next(
        (q.period for q in alarm.metrics if q.expression is None and q.period), 0
    )
    if not period:
        raise MissingParameter("The expression of a metric math alarm needs a Period.")
    return replace(alarm, period=period)


def check_alarm(alarm: Alarm, region: str) -> Alarm:
    """PutMetricAlarm's checks; the alarm with its action lists deduplicated."""
    if not 1 <= len(alarm.name) <= _NAME_LENGTH:
        raise InvalidParameterValue(f"AlarmName must be 1 to {_NAME_LENGTH} characters.")
    if alarm.threshold_metric_id is not None and not alarm.metrics:
        raise MissingParameter("An anomaly detection alarm needs Metrics (its band's queries).")
    if alarm.metrics:
        alarm = _math_alarm(alarm)
    elif not alarm.namespace or not alarm.metric_name:
        raise MissingParameter(
            "A metric alarm needs a Namespace and a MetricName, or Metrics (metric math)."
        )
    elif alarm.statistic is None and alarm.extended_statistic is None:
        raise MissingParameter("One of Statistic or ExtendedStatistic must be given.")
    if alarm.statistic is not None and alarm.extended_statistic is not None:
        raise InvalidParameterCombination(
            "Statistic and ExtendedStatistic are mutually exclusive and you have specified both."
        )
    elif alarm.statistic is not None and alarm.statistic not in STATISTICS:
        raise InvalidParameterValue(f"The statistic {alarm.statistic[:64]} is not supported.")
    elif alarm.extended_statistic is not None and percentile_of(alarm.extended_statistic) is None:
        raise InvalidParameterValue(
            f"The extended statistic {alarm.extended_statistic[:64]} is not supported: pNN or "
            "pNN.NN."
        )
    if alarm.period < 1 or (
        (alarm.period < 60 and alarm.period not in _PERIODS_UNDER_A_MINUTE)
        or (alarm.period >= 60 and alarm.period % 60)
    ):
        raise InvalidParameterValue(
            "Period must be 10, 20, 30 or a multiple of 60 seconds (high-resolution periods "
            "need a metric stored at 1 s)."
        )
    if alarm.evaluation_periods < 1:
        raise InvalidParameterValue("EvaluationPeriods must be at least 1.")
    if alarm.period * alarm.evaluation_periods > 7 * 86400:
        raise InvalidParameterValue(
            "The evaluation range (Period times EvaluationPeriods) may be 7 days at most."
        )
    if not 1 <= alarm.datapoints_to_alarm <= alarm.evaluation_periods:
        raise InvalidParameterValue("DatapointsToAlarm must be between 1 and EvaluationPeriods.")
    if alarm.threshold_metric_id is not None:
        if alarm.comparison not in BAND_COMPARISONS:
            raise InvalidParameterValue(
                f"An anomaly detection alarm's ComparisonOperator is one of "
                f"{', '.join(BAND_COMPARISONS)}."
            )
    elif alarm.comparison in BAND_COMPARISONS:
        raise InvalidParameterValue(
            f"{alarm.comparison} is for anomaly detection alarms: give ThresholdMetricId."
        )
    elif alarm.comparison not in COMPARISONS:
        raise InvalidParameterValue(
            f"ComparisonOperator {alarm.comparison[:64]} is not one of {', '.join(COMPARISONS)}."
        )
    if not math.isfinite(alarm.threshold):
        raise InvalidParameterValue("Threshold must be a finite number.")
    if alarm.evaluate_low_sample not in LOW_SAMPLE:
        raise InvalidParameterValue("EvaluateLowSampleCountPercentile is evaluate or ignore.")
    if alarm.treat_missing_data not in MISSING_DATA:
        raise InvalidParameterValue(f"TreatMissingData must be one of {', '.join(MISSING_DATA)}.")
    if alarm.unit is not None and alarm.unit not in UNITS:
        raise InvalidParameterValue(f"The unit {alarm.unit[:64]} is not a CloudWatch unit.")
    if alarm.description is not None and len(alarm.description) > 1024:
        raise InvalidParameterValue("AlarmDescription may be 1,024 characters at most.")
    if len(alarm.tags) > 50 or any(not 1 <= len(k) <= 128 or len(v) > 256 for k, v in alarm.tags):
        raise InvalidParameterValue("At most 50 tags, keys of 1 to 128 characters.")
    return replace(
        alarm,
        dimensions=tuple(sorted(alarm.dimensions)),
        alarm_actions=check_actions(
            alarm.alarm_actions, "AlarmActions", region, alarm.tenant_id, scaling=True
        ),
        ok_actions=check_actions(
            alarm.ok_actions, "OKActions", region, alarm.tenant_id, scaling=True
        ),
        insufficient_data_actions=check_actions(
            alarm.insufficient_data_actions,
            "InsufficientDataActions",
            region,
            alarm.tenant_id,
            scaling=True,
        ),
    )
