"""EventBridge's managed rules and AWS/Events metrics end to end (decisions 0332, 0341): one
real ``andromede serve`` driven by boto3's ``events`` and ``cloudwatch`` clients.

CreateArchive makes the archive's managed rule ``Events-Archive-<name>``, which ListRules
and DescribeRule show with AWS's ``ManagedBy`` ``prod.vhs.events.aws.internal``, and its
one target (ListTargetsByRule); a user's DisableRule and DeleteRule without ``Force`` are
refused with ``ManagedRuleException``; the archive takes the events its rule matches; its
target removed and the rule deleted with ``Force`` stop it (``DISABLED``). PutEvents'
metrics (the approximate call counts too) are read back with GetMetricStatistics.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from e2e.iam_helpers import client_for
from support.server import REGION, ServerProcess, running_server

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    data_dir = tmp_path_factory.mktemp("events-managed") / "data"
    # The platform's metrics written every half second (the sink's flush).
    env = {"ANDROMEDE_WORKERS": "1", "ANDROMEDE_METRICS_PLATFORM_INTERVAL": "0.5"}
    with running_server(data_dir, extra_env=env) as started:
        yield started


def _minute(delta: int = 0) -> datetime:
    return datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(minutes=delta)


def test_an_archive_rule_is_managed_and_the_metrics_are_read_back(server: ServerProcess) -> None:
    credentials = server.credentials()
    events: Any = client_for(server, "events", *credentials)
    cw: Any = client_for(server, "cloudwatch", *credentials)
    bus = events.create_event_bus(Name="shop")["EventBusArn"]
    events.create_archive(
        ArchiveName="orders", EventSourceArn=bus, EventPattern='{"source": ["shop"]}'
    )
    [rule] = events.list_rules(EventBusName="shop")["Rules"]
    assert (rule["Name"], rule["ManagedBy"]) == (
        "Events-Archive-orders",
        "prod.vhs.events.aws.internal",
    )
    described = events.describe_rule(Name="Events-Archive-orders", EventBusName="shop")
    assert described["ManagedBy"] == "prod.vhs.events.aws.internal"
    for refused in (events.disable_rule, events.delete_rule):
        with pytest.raises(ClientError) as caught:
            refused(Name="Events-Archive-orders", EventBusName="shop")
        assert caught.value.response["Error"]["Code"] == "ManagedRuleException"

    entry = {"Source": "shop", "DetailType": "order", "Detail": "{}", "EventBusName": "shop"}
    assert events.put_events(Entries=[entry, entry])["FailedEntryCount"] == 0
    assert events.describe_archive(ArchiveName="orders")["EventCount"] == 2

    [target] = events.list_targets_by_rule(Rule="Events-Archive-orders", EventBusName="shop")[
        "Targets"
    ]
    assert (target["Id"], target["Arn"]) == ("Events-Archive-orders", f"arn:aws:events:{REGION}:::")
    assert '"event": <aws.events.event.json>' in target["InputTransformer"]["InputTemplate"]
    events.remove_targets(
        Rule="Events-Archive-orders", EventBusName="shop", Ids=[target["Id"]], Force=True
    )
    events.delete_rule(Name="Events-Archive-orders", EventBusName="shop", Force=True)
    assert events.describe_archive(ArchiveName="orders")["State"] == "DISABLED"
    events.put_events(Entries=[entry])
    assert events.describe_archive(ArchiveName="orders")["EventCount"] == 2

    def total(name: str, statistic: str = "Sum") -> float | None:
        points = cw.get_metric_statistics(
            Namespace="AWS/Events",
            MetricName=name,
            StartTime=_minute(-1),
            EndTime=_minute(1),
            Period=120,
            Statistics=[statistic],
        )["Datapoints"]
        return points[0][statistic] if points else None

    deadline = time.monotonic() + 20  # the sink flushes in the background
    while total("PutEventsEntriesCount") != 3.0 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert total("PutEventsEntriesCount") == 3.0
    assert total("PutEventsFailedEntries") == 0.0
    # Decision 0341: each PutEvents call, and each answered (none throttled or failed here).
    assert total("PutEventsApproximateCallCount") == 2.0
    assert total("PutEventsApproximateSuccessCount") == 2.0
    assert total("PutEventsRequestSize") == 3.0 * len("shoporder{}")
    latency = total("PutEventsLatency", "Maximum")
    assert latency is not None and 0 <= latency < 10_000
    names = {m["MetricName"] for m in cw.list_metrics(Namespace="AWS/Events")["Metrics"]}
    assert {"PutEventsEntriesCount", "PutEventsLatency", "PutEventsRequestSize"} <= names
