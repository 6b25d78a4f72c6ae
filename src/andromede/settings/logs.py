"""CloudWatch Logs (decision 0186): the limits of the API's calls and the retention sweep.

One group of ``andromede.settings.Settings``, which is composed of them all; the fields keep
their ``ANDROMEDE_<NAME>`` environment variables and TOML keys.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from andromede.settings.units import MIB


class LogsSettings(BaseModel):
    """CloudWatch Logs' limits and upkeep."""

    logs_max_groups: int = Field(
        default=1_000_000,
        gt=0,
        description="Log groups an account may have (AWS: 1,000,000 a region) (decision 0186).",
    )
    logs_max_events: int = Field(
        default=10_000,
        gt=0,
        description="Events one PutLogEvents may carry (AWS: 10,000) (decision 0186).",
    )
    logs_max_batch_size: int = Field(
        default=1_048_576,
        gt=0,
        description="Bytes of one PutLogEvents batch, each event counting its UTF-8 message "
        "and 26 bytes (AWS: 1,048,576) (decision 0186).",
    )
    logs_max_body_size: int = Field(
        default=8 * MIB,
        gt=0,
        description="Largest CloudWatch Logs request body in bytes: a full batch written as "
        "JSON, its escapes included (decision 0186).",
    )
    logs_list_page: int = Field(
        default=50,
        gt=0,
        description="Groups or streams one DescribeLogGroups / DescribeLogStreams page answers, "
        "its limit's default and ceiling (AWS: 50) (decision 0186).",
    )
    logs_events_page: int = Field(
        default=10_000,
        gt=0,
        description="Events one GetLogEvents / FilterLogEvents page answers, its limit's "
        "default and ceiling (AWS: 10,000) (decision 0186).",
    )
    logs_max_response_size: int = Field(
        default=1_048_576,
        gt=0,
        description="Bytes of messages one GetLogEvents / FilterLogEvents page answers at most, "
        "one event at least (AWS: 1 MB) (decision 0186).",
    )
    logs_filter_scan: int = Field(
        default=100_000,
        gt=0,
        description="Events one FilterLogEvents call reads before it answers what matched so "
        "far with a nextToken (decision 0186).",
    )
    logs_retention_interval: float = Field(
        default=300.0,
        gt=0,
        description="Seconds between two passes of the log retention sweep (decision 0186).",
    )
    logs_retention_batch: int = Field(
        default=10_000,
        gt=0,
        description="Events one pass of the log retention sweep deletes at most (decision 0186).",
    )
    logs_max_metric_filters: int = Field(
        default=100,
        gt=0,
        description="Metric filters a log group may have (AWS: 100) (decision 0186, session 48).",
    )
    logs_metric_filter_cache: float = Field(
        default=5.0,
        gt=0,
        description="Seconds a gateway keeps a log group's metric filters, and an account's "
        "account-level data protection policy, before reading them again: a filter or policy "
        "put through another gateway applies within this time (decisions 0186 and 0211).",
    )
    logs_metric_flush_interval: float = Field(
        default=10.0,
        gt=0,
        description="Seconds between two writes of the metric filters' tallied values into "
        "the accounts' metrics (decision 0186, session 48).",
    )
    logs_metric_tally_keys: int = Field(
        default=100_000,
        gt=0,
        description="Minutes of metric filter series a gateway tallies at most between two "
        "writes; beyond, new ones are dropped and logged (decision 0186, session 48).",
    )
    logs_max_resource_policies: int = Field(
        default=10,
        gt=0,
        description="CloudWatch Logs resource policies an account may have (AWS: 10 a region) "
        "(decision 0186, session 48).",
    )
    logs_query_max_concurrent: int = Field(
        default=30,
        gt=0,
        description="Logs Insights queries an account may have Scheduled or Running at once "
        "(AWS: 30) (decision 0186, session 48).",
    )
    logs_query_timeout: float = Field(
        default=3600.0,
        gt=0,
        description="Seconds a Logs Insights query may run before it ends Timeout "
        "(AWS: 60 minutes) (decision 0186, session 48).",
    )
    logs_query_retention: float = Field(
        default=7 * 86_400.0,
        gt=0,
        description="Seconds a Logs Insights query's status and results are kept after it "
        "starts (AWS: 7 days) (decision 0186, session 48).",
    )
    logs_query_max_groups: int = Field(
        default=10_000,
        gt=0,
        description="Groups one Logs Insights stats command may make; a query making more "
        "fails (decision 0186, session 48).",
    )
    logs_query_max_rows: int = Field(
        default=100_000,
        gt=0,
        description="Rows (or pct values) a Logs Insights query may hold in memory to sort, "
        "deduplicate or take percentiles of; a query needing more fails "
        "(decision 0186, session 48).",
    )
    logs_query_max_patterns: int = Field(
        default=1000,
        gt=0,
        description="Patterns one Logs Insights pattern or diff command may make (each holds "
        "at most 100 tokens and 5 values of each); a query making more fails "
        "(decision 0186, session 50).",
    )
    logs_live_tail_max_sessions: int = Field(
        default=15,
        gt=0,
        description="Live tail sessions (StartLiveTail) an account may hold open through one "
        "gateway (AWS's quota: 15); one more is LimitExceededException "
        "(decision 0186, session 50).",
    )
    logs_live_tail_max_session: float = Field(
        default=10_800.0,
        gt=0,
        description="Seconds a live tail session lasts before it ends with "
        "SessionTimeoutException (AWS: three hours) (decision 0186, session 50).",
    )
    logs_query_partial_interval: float = Field(
        default=1.0,
        ge=0,
        description="Seconds between two writes of a running Logs Insights query's partial "
        "results and statistics, which GetQueryResults answers while it runs "
        "(decision 0186, session 49).",
    )
    logs_max_query_definitions: int = Field(
        default=1000,
        gt=0,
        description="Saved Logs Insights query definitions an account may have "
        "(decision 0186, session 48).",
    )
    logs_export_batch: int = Field(
        default=1000,
        gt=0,
        description="Events an export task reads from the store at a time, so a gateway holds "
        "one batch whatever the group's size (decision 0186, session 49).",
    )
    logs_export_max_object_size: int = Field(
        default=8 * MIB,
        gt=0,
        description="Compressed bytes past which an export task cuts a stream's object and "
        "begins the next (000000.gz, 000001.gz…); a gateway holds one such object at a time "
        "(decision 0186, session 49).",
    )
    logs_export_lease: float = Field(
        default=60.0,
        gt=0,
        description="Seconds a gateway's claim on a running export task lasts between two "
        "renewals; a task whose gateway stopped is taken over after it "
        "(decision 0186, session 49).",
    )
    logs_export_interval: float = Field(
        default=5.0,
        gt=0,
        description="Seconds between two looks of a gateway for export tasks to run (one "
        "created through it starts at once) (decision 0186, session 49).",
    )
    logs_record_fields_sample: int = Field(
        default=1000,
        gt=0,
        description="Recent events GetLogGroupFields reads to name a group's fields and "
        "their percentages (decision 0186, session 49).",
    )
    logs_max_subscription_filters: int = Field(
        default=2,
        gt=0,
        description="Subscription filters a log group may have (AWS: 2) (decision 0225).",
    )
    logs_subscription_outbox_size: int = Field(
        default=64 * MIB,
        gt=0,
        description="Bytes of matched records an account's subscription filters may keep waiting "
        "for their Firehose streams; matches past it are given up with a WARNING and an "
        "audit record (decision 0225).",
    )
    logs_subscription_poll_interval: float = Field(
        default=1.0,
        gt=0,
        description="Seconds between two delivery passes of the subscription filters' outbox in "
        "every gateway, and between the attempts of a failing record (decision 0225).",
    )
    logs_subscription_batch: int = Field(
        default=100,
        gt=0,
        description="Records of the subscription filters' outbox one delivery pass claims at most "
        "(decision 0225).",
    )
    logs_subscription_lease: float = Field(
        default=60.0,
        gt=0,
        description="Seconds a gateway's claim on the outbox records it delivers lasts; those of a "
        "gateway that stopped are taken over after it (decision 0225).",
    )
    logs_subscription_retry_duration: float = Field(
        default=86400.0,
        gt=0,
        description="Seconds a subscription filter's record is retried before it is given up "
        "with a WARNING and an audit record (AWS: 24 hours) (decision 0225).",
    )
    logs_max_account_subscription_exclusions: int = Field(
        default=50,
        gt=0,
        description="Log groups an account-level subscription filter policy's selection criteria "
        "(LogGroupName NOT IN [...]) may leave out; the criteria is at most AWS's 25 KB "
        "(decision 0232).",
    )
