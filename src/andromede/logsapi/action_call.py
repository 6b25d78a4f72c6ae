"""One CloudWatch Logs call as its operation sees it (decision 0186): its parameters, its
account, the service and the means to authorise, and what the call touched for its audit
event and metering. Shared by :mod:`andromede.logsapi.actions` and
:mod:`andromede.logsapi.metric_filter_actions`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from andromede.logs.errors import InvalidParameter, ResourceNotFound
from andromede.logs.export_tasks import ExportService
from andromede.logs.insights import InsightsService
from andromede.logs.live_tail import LiveTails, LiveTailSession
from andromede.logs.model import check_group_name, group_arn
from andromede.logs.service import LogsService
from andromede.logs.subscription_service import Subscriptions
from andromede.logsapi.params import optional_str, required_str

__all__ = ["Authorise", "LogsCall"]

Authorise = Callable[[str, str], Awaitable[None]]


@dataclass(slots=True)
class LogsCall:
    """One call's parameters, its account and the means to authorise; ``resources`` are
        the ARNs it touched, for its audit event; ``ingested`` the bytes PutLogEvents took
    (``ingested_class`` its group's class, which meter counts them);
        ``denied`` whether its authorisation refused it (a refused data call is audited too);
        ``insights`` the Logs Insights queries' service and ``exports`` the export tasks', when
        the deployment serves them; ``fields_sample`` GetLogGroupFields' sample of events;
        ``live_tails`` the gateway's live tail sessions and ``live_tail`` the one StartLiveTail
        opened, whose event stream is the answer."""

    params: dict[str, Any]
    tenant_id: str
    logs: LogsService
    authorise: Authorise
    resources: list[str] = field(default_factory=list)
    ingested: int = 0
    ingested_class: str = "STANDARD"  # the group's class: its meter (decision 0222)
    denied: bool = False
    insights: InsightsService | None = None
    exports: ExportService | None = None
    fields_sample: int = 1000
    live_tails: LiveTails | None = None
    live_tail: LiveTailSession | None = None
    subscriptions: Subscriptions | None = None  # subscription filters (decision 0225)

    def group_arn(self, name: str) -> str:
        return group_arn(self.logs.region, self.tenant_id, name)

    async def allow(self, action: str, arn: str) -> None:
        self.resources.append(arn)
        try:
            await self.authorise(f"logs:{action}", arn)
        except Exception:
            self.denied = True
            raise

    def group_name(self) -> str:
        """``logGroupName``, or the name in ``logGroupIdentifier`` (a name or an ARN)."""
        identifier = optional_str(self.params, "logGroupIdentifier")
        name = optional_str(self.params, "logGroupName")
        if identifier is not None and name is not None:
            raise InvalidParameter(
                "LogGroup name and LogGroup identifier are mutually exclusive parameters."
            )
        if identifier is not None:
            return self.name_from_arn(identifier) if identifier.startswith("arn:") else identifier
        return check_group_name(required_str(self.params, "logGroupName"))

    @staticmethod
    def group_name_checked(name: str) -> str:
        return check_group_name(name, "logGroupIdentifier")

    def name_from_arn(self, arn: str) -> str:
        """The group a log group ARN (``…:log-group:<name>`` with or without ``:*``) names in
        the caller's own account and region."""
        prefix = f"arn:aws:logs:{self.logs.region}:{self.tenant_id}:log-group:"
        if not arn.startswith(prefix):
            if arn.startswith("arn:aws:logs:"):
                raise ResourceNotFound("The specified log group does not exist.")
            raise InvalidParameter(f"Invalid resource ARN {arn[:256]!r}")
        return check_group_name(arn[len(prefix) :].removesuffix(":*"), "resourceArn")
