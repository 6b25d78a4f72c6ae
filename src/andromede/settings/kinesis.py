"""Amazon Kinesis Data Streams (decision 0228): the bounds of an account's streams, of their
records and shards, the upkeep that trims records past their retention period, and the one
that scales on-demand streams out (decision 0255).

One group of ``andromede.settings.Settings``, which is composed of them all; the fields keep
their ``ANDROMEDE_<NAME>`` environment variables and TOML keys.
"""

from __future__ import annotations

from pydantic import BaseModel, Field


class KinesisSettings(BaseModel):
    """Kinesis Data Streams' limits and upkeep."""

    kinesis_max_shards: int = Field(
        default=500,
        gt=0,
        description="Open shards an account may hold in a Region, all its streams together "
        "(AWS: 500 in the largest Regions); beyond, LimitExceededException (decision 0228).",
    )
    kinesis_max_on_demand_streams: int = Field(
        default=50,
        ge=0,
        description="On-demand streams an account may hold in a Region (AWS: 50); beyond, "
        "LimitExceededException (decision 0228).",
    )
    kinesis_max_consumers: int = Field(
        default=20,
        ge=0,
        description="Consumers a stream may have registered (AWS: 20); beyond, "
        "LimitExceededException (decision 0228).",
    )
    kinesis_max_policy_size: int = Field(
        default=20_480,
        gt=0,
        description="Largest resource policy of a stream or consumer in bytes (AWS: 20 KB); "
        "beyond, InvalidArgumentException (decision 0248).",
    )
    kinesis_max_record_size: int = Field(
        default=10_485_760,
        gt=0,
        le=10_485_760,
        description="Largest record's data in bytes any stream takes, before base64 (AWS: 10 "
        "MiB); a stream's own MaxRecordSizeInKiB (1 MiB unless CreateStream or "
        "UpdateMaxRecordSize set it, at most this) bounds its records below it (decisions "
        "0228, 0260).",
    )
    kinesis_iterator_lifetime: int = Field(
        default=300,
        gt=0,
        description="Seconds a shard iterator may be used after it was issued; then "
        "ExpiredIteratorException (AWS: 5 minutes) (decision 0228).",
    )
    kinesis_shard_write_records: int = Field(
        default=1000,
        gt=0,
        description="Records a shard takes a second through one gateway; beyond, "
        "ProvisionedThroughputExceededException (AWS: 1,000) (decision 0228).",
    )
    kinesis_shard_write_bytes: int = Field(
        default=1_048_576,
        gt=0,
        description="Bytes of data a shard takes a second through one gateway; beyond, "
        "ProvisionedThroughputExceededException (AWS: 1 MiB) (decision 0228).",
    )
    kinesis_shard_read_calls: int = Field(
        default=5,
        gt=0,
        description="GetRecords calls a shard serves a second through one gateway; beyond, "
        "ProvisionedThroughputExceededException (AWS: 5) (decision 0248).",
    )
    kinesis_shard_read_bytes: int = Field(
        default=2_097_152,
        gt=0,
        description="Bytes a second GetRecords reads from a shard through one gateway: a "
        "larger read is served, then the shard's calls are refused "
        "(ProvisionedThroughputExceededException) until it is paid back (AWS: 2 MB) "
        "(decision 0248).",
    )
    kinesis_trim_interval: float = Field(
        default=60.0,
        gt=0,
        description="Seconds between the passes that delete records past their stream's "
        "retention period, in every gateway (decision 0228).",
    )
    kinesis_max_on_demand_shards: int = Field(
        default=200,
        gt=0,
        description="Open shards an on-demand stream may scale out to (AWS: 200 MiB/s of "
        "writes by default); the account's kinesis_max_shards bounds them too (decision 0255).",
    )
    kinesis_scale_interval: float = Field(
        default=60.0,
        gt=0,
        le=900.0,
        description="Seconds between the rounds that split on-demand streams' shards for double "
        "the busiest second of writes each gateway saw since the last (AWS: within 15 "
        "minutes) (decision 0255).",
    )
    kinesis_scale_in_window: float = Field(
        default=86_400.0,
        gt=0,
        description="Seconds an on-demand stream's two adjacent open shards must stay cold "
        "(each its busiest second of writes below kinesis_scale_in_load of a shard's capacity, "
        "through this gateway and the stream's records all told) before they are merged back, "
        "never below 4 open shards (AWS: scales in over hours) (decision 0260).",
    )
    kinesis_scale_in_load: float = Field(
        default=0.25,
        gt=0,
        le=0.25,
        description="Fraction of a shard's write capacity below which an on-demand shard "
        "counts as cold for scaling in; at most 0.25, so that a merged shard stays under half "
        "its capacity and is not split again (decision 0260).",
    )
    kinesis_subscription_lifetime: float = Field(
        default=300.0,
        gt=0,
        le=300.0,
        description="Seconds a SubscribeToShard event stream lasts before it ends and the "
        "consumer subscribes again (AWS: 5 minutes) (decision 0242).",
    )
    kinesis_subscription_poll_interval: float = Field(
        default=0.2,
        gt=0,
        le=5.0,
        description="Seconds a SubscribeToShard subscription waits, once it has read its shard "
        "to the end, before it looks for new records (decision 0242).",
    )
