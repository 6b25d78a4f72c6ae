"""Step Functions' activities (decision 0271): created (idempotently, as AWS's), described,
listed in pages, deleted; and their tasks given to workers — GetActivityTask takes the
oldest task an execution parked on the activity (one worker a task, across gateways: the
store marks it given in a guarded write), waiting up to ``poll_timeout`` seconds for one, as
AWS's long poll (60 s). The task's answer is its token's (``ExecutionsService.answer``)."""

from __future__ import annotations

import asyncio
import base64
import binascii
import dataclasses
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from andromede.stepfunctions.activities import (
    Activity,
    activity_arn,
    check_activity_name,
    split_activity_arn,
)
from andromede.stepfunctions.activity_store import ActivityStore
from andromede.stepfunctions.branch_steps import activity_name, waiting_activities, with_task
from andromede.stepfunctions.errors import (
    ActivityDoesNotExist,
    InvalidToken,
    ResourceNotFound,
    TooManyTags,
    ValidationException,
)
from andromede.stepfunctions.execution_service import ExecutionsService
from andromede.stepfunctions.executions import Execution, HistoryEvent
from andromede.stepfunctions.model import MAX_TAGS, check_tags

__all__ = ["ActivitiesService", "ActivityLimits"]

_DEFAULT_PAGE: Final = 100
_MAX_PAGE: Final = 1000


@dataclass(frozen=True, slots=True)
class ActivityLimits:
    max_activities: int = 10_000
    poll_timeout: float = 60.0
    poll_interval: float = 1.0


def _now() -> int:
    return int(time.time() * 1000)


class ActivitiesService:
    def __init__(
        self,
        store: ActivityStore,
        executions: ExecutionsService,
        limits: ActivityLimits | None = None,
        clock: Callable[[], int] = _now,
    ) -> None:
        self.store = store
        self.executions = executions
        self.region = executions.region
        self.limits = limits or ActivityLimits()
        self._clock = clock

    async def create(self, tenant_id: str, params: dict[str, Any]) -> Activity:
        name = check_activity_name(params.get("name"))
        arn = activity_arn(self.region, tenant_id, name)
        made = Activity(tenant_id, self.region, name, self._clock(),
                        check_tags(params.get("tags"), arn))  # fmt: skip
        found = await self.store.create(made, self.limits.max_activities)
        return made if found is None else found

    async def get(self, tenant_id: str, arn: Any) -> Activity:
        account, name = split_activity_arn(arn, self.region)
        found = None if account != tenant_id else await self.store.get(tenant_id, self.region, name)
        if found is None:
            raise ActivityDoesNotExist(f"Activity Does Not Exist: '{arn}'")
        return found

    async def delete(self, tenant_id: str, arn: Any) -> None:
        account, name = split_activity_arn(arn, self.region)
        if account == tenant_id:
            await self.store.delete(tenant_id, self.region, name)

    async def page(
        self, tenant_id: str, token: Any, max_results: Any
    ) -> tuple[list[Activity], str | None]:
        after = None
        if token is not None:
            try:
                decoded = base64.urlsafe_b64decode(str(token).encode()).decode()
            except (binascii.Error, UnicodeDecodeError, ValueError):
                decoded = ""
            if not decoded.startswith("ac1:"):
                raise InvalidToken(f"Invalid Token: '{str(token)[:64]}'")
            after = decoded[4:]
        size = _DEFAULT_PAGE if not max_results else max_results
        if not isinstance(size, int) or isinstance(size, bool) or not 0 < size <= _MAX_PAGE:
            raise ValidationException(f"maxResults must be between 0 and {_MAX_PAGE}.")
        found = await self.store.activities(tenant_id, self.region, after, size + 1)
        page = found[:size]
        if len(found) <= size:
            return page, None
        return page, base64.urlsafe_b64encode(f"ac1:{page[-1].name}".encode()).decode()

    async def tag(self, activity: Activity, tags: Any) -> None:
        merged = dict(activity.tags) | dict(check_tags(tags, activity.arn))
        if len(merged) > MAX_TAGS:
            raise TooManyTags(f"Too many tags: a resource may have at most {MAX_TAGS}.",
                              activity.arn)  # fmt: skip
        await self._retag(activity, tuple(sorted(merged.items())))

    async def untag(self, activity: Activity, keys: list[str]) -> None:
        removed = set(keys)
        await self._retag(activity, tuple((k, v) for k, v in activity.tags if k not in removed))

    async def _retag(self, activity: Activity, tags: tuple[tuple[str, str], ...]) -> None:
        if not await self.store.set_tags(activity.tenant_id, self.region, activity.name, tags):
            raise ResourceNotFound(f"Resource not found: '{activity.arn}'", activity.arn)

    async def take_task(self, tenant_id: str, arn: Any, worker: Any) -> tuple[str, str] | None:
        """(task token, input) of the oldest task waiting on the activity, given to this
        worker; None when none came within the poll's time."""
        activity = await self.get(tenant_id, arn)
        waited = 0.0
        while True:
            taken = await self.executions.store.take(tenant_id, self.region, activity.name)
            if taken is not None:
                task = (taken.cursor or {}).get("task") or {}
                if not task.get("activity"):  # one parked within a branch (decision 0283)
                    pending = [
                        t
                        for t in waiting_activities(taken.cursor)
                        if not t.get("taken") and activity_name(t) == activity.name
                    ]
                    task = pending[0] if pending else {}  # fmt: skip
                await self._started(taken, worker, task)
                return str(task.get("token", "")), json.dumps(task.get("input"))
            if waited >= self.limits.poll_timeout:
                return None
            await asyncio.sleep(self.limits.poll_interval)
            waited += self.limits.poll_interval

    async def _started(self, execution: Execution, worker: Any, task: dict[str, Any]) -> None:
        """ActivityStarted in the execution's history (best effort: the task is the
        worker's already). A task within a branch is marked taken in the execution's cursor,
        and the next one waiting there, if any, offered to the workers."""
        details = {"workerName": str(worker)[:80]} if isinstance(worker, str) else {}
        event = HistoryEvent(execution.events + 1, execution.events, self._clock(),
                             "ActivityStarted", "activityStartedEventDetails", details)  # fmt: skip
        changed = execution.changed(events=execution.events + 1)
        if execution.cursor is not None and not (execution.cursor.get("task") or {}).get(
            "activity"
        ) and task.get("token"):  # fmt: skip
            cursor = with_task(execution.cursor, str(task["token"]), {**task, "taken": True}, None)
            pending = [t for t in waiting_activities(cursor) if not t.get("taken")]
            changed = dataclasses.replace(
                changed,
                cursor=cursor,
                waiting_activity=activity_name(pending[0]) if pending else None,
                activity_taken=not pending,
            )
        await self.executions.store.advance(changed, [event], None, 0)
