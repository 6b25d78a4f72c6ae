"""An instance's monitoring on its console page (decision 0111, session 47: instances'
monitoring; EC2's side is decision 0178): the small charts of its ``AWS/EC2``
``CPUUtilization``, ``NetworkIn`` and ``NetworkOut`` over the last 3 hours, at 5-minute
periods — 1-minute ones once detailed monitoring is on, as AWS's console draws them —, and
the switch of detailed monitoring (MonitorInstances / UnmonitorInstances).

Every read is CloudWatch's GetMetricStatistics and every switch EC2's own call, as the
signed-in principal, so their IAM decisions and errors answer; the instance's page shows a
refusal of the charts beside its details rather than failing the whole page.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final
from urllib.parse import urlencode

from starlette.requests import Request

from andromede.console.metric_chart import RANGES, Chart, draw
from andromede.console.pages_metrics import graph_href, number_text
from andromede.console.session import CONSOLE_PATH
from andromede.console.wire import WireError
from andromede.console.wire_ec2 import Ec2Wire
from andromede.console.wire_metrics import MetricRow
from andromede.http.response import Scope
from andromede.iam.model import Principal

if TYPE_CHECKING:
    from andromede.console.app import Console, Session

__all__ = ["InstanceChart", "InstanceCharts", "instance_charts", "metrics_href", "switch"]

# The metrics charted and their statistic: CPU as its average share, the bytes as their sum
# over each period (what AWS's NetworkIn/Out are: bytes "during the period").
CHARTED: Final = (("CPUUtilization", "Average"), ("NetworkIn", "Sum"), ("NetworkOut", "Sum"))
_SPAN: Final = RANGES["3h"]
_BASIC_PERIOD: Final = 300
_DETAILED_PERIOD: Final = 60


@dataclass(frozen=True, slots=True)
class InstanceChart:
    metric: str
    statistic: str
    chart: Chart
    rows: list[tuple[str, str, str]]  # (time, value, unit), the chart's table
    href: str  # its Metrics chart page


@dataclass(frozen=True, slots=True)
class InstanceCharts:
    charts: list[InstanceChart]
    period: int
    start_text: str
    end_text: str
    error: str | None  # CloudWatch's refusal (or none serving), shown in place of the charts


def metrics_href(instance_id: str) -> str:
    """The Metrics page listing the instance's ``AWS/EC2`` metrics."""
    query = urlencode([("namespace", "AWS/EC2"), ("dimension", f"InstanceId={instance_id}")])
    return f"{CONSOLE_PATH}/metrics?{query}"


def _when_text(at: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(at))


async def instance_charts(
    console: Console, request: Request, session: Session, instance_id: str, detailed: bool
) -> InstanceCharts:
    """The three charts over the 3 hours ending at the next whole minute (as the Metrics
    pages' ranges), one unit each (GetMetricStatistics answers a period once per unit)."""
    _ = console.catalogue(request).gettext
    end = (int(time.time()) // 60 + 1) * 60
    start = end - _SPAN
    period = _DETAILED_PERIOD if detailed else _BASIC_PERIOD
    charts: list[InstanceChart] = []
    error: str | None = None
    wire = console.metrics
    if wire is None:
        error = _("This server serves no metrics.")
        return InstanceCharts(charts, period, _when_text(start), _when_text(end), error)
    for name, statistic in CHARTED:
        metric = MetricRow("AWS/EC2", name, (("InstanceId", instance_id),))
        try:
            points = await wire.statistics(
                request.scope, session.principal, metric, start=start, end=end, period=period,
                statistic=statistic,
            )  # fmt: skip
        except WireError as exc:
            error = console.error_text(request, exc)
            break
        units = sorted({p.unit for p in points})
        drawn = [p for p in points if p.unit == units[0]] if units else []
        unit = units[0] if units else ("Percent" if name == "CPUUtilization" else "Bytes")
        charts.append(
            InstanceChart(
                metric=name,
                statistic=statistic,
                chart=draw([(p.at, p.value) for p in drawn], start, end, unit),
                rows=[(_when_text(p.at), number_text(p.value), p.unit) for p in drawn],
                href=graph_href(metric, stat=statistic, range="3h", period=str(period)),
            )
        )
    return InstanceCharts(charts, period, _when_text(start), _when_text(end), error)


async def switch(
    ec2: Ec2Wire, origin: Scope, principal: Principal, instance_id: str, enabled: bool
) -> None:
    """MonitorInstances (``enabled``) or UnmonitorInstances of one instance."""
    action = "MonitorInstances" if enabled else "UnmonitorInstances"
    await ec2.call(origin, principal, action, {"InstanceId.1": instance_id})
