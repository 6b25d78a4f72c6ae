"""Decision 0286's function logs: an invocation's lines written into ``/aws/lambda/<name>``
of the function's account, the group and stream made on first use as AWS's Lambda makes
them, the bytes metered as ingested logs, a failure never raised to the invocation."""

from __future__ import annotations

import time
from pathlib import Path

from andromede.function_log_groups import FunctionLogGroups
from support.logsapp import logs_world

TENANT = "000000000001"


async def test_written_into_the_functions_group(tmp_path: Path) -> None:
    metered: list[tuple[str, int, str]] = []
    for logs in logs_world(tmp_path):
        now = int(time.time() * 1000)
        logs.clock.now = now
        groups = FunctionLogGroups(logs.service, ingested=lambda *m: metered.append(m))
        lines = [(now, "START RequestId: r1 Version: $LATEST"), (now, "hello"), (now, "")]
        await groups.write(TENANT, "/aws/lambda/fn", "2026/12/06/[$LATEST]abc", lines)
        await groups.write(TENANT, "/aws/lambda/fn", "2026/12/06/[$LATEST]abc", [(now, "again")])
        events, _, _ = await logs.service.get_events(
            TENANT, "/aws/lambda/fn", "2026/12/06/[$LATEST]abc",
            start=None, end=None, start_from_head=True, limit=None, token=None,
        )  # fmt: skip
        assert [e.message for e in events] == [
            "START RequestId: r1 Version: $LATEST",
            "hello",
            "again",
        ]
        assert metered[0][0] == TENANT and metered[0][1] == len(lines[0][1]) + 26 + 5 + 26
        # Too old for Logs: dropped with a log line, the invocation unharmed.
        await groups.write(TENANT, "/aws/lambda/fn", "s", [(1, "ancient")])
