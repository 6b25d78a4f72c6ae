"""Amazon DynamoDB (decision 0237): the bounds of an account's tables and of their items, the
upkeep that deletes the items past their time to live, and its streams' retention, iterators
and pages (decision 0246).

One group of ``andromede.settings.Settings``, which is composed of them all; the fields keep
their ``ANDROMEDE_<NAME>`` environment variables and TOML keys.
"""

from __future__ import annotations

from pydantic import BaseModel, Field


class DynamoSettings(BaseModel):
    """DynamoDB's limits and upkeep."""

    dynamodb_max_tables: int = Field(
        default=2500,
        gt=0,
        description="Tables an account may hold in a Region (AWS: 2,500); beyond, "
        "LimitExceededException (decision 0237).",
    )
    dynamodb_max_item_size: int = Field(
        default=409_600,
        gt=0,
        le=409_600,
        description="Largest item in bytes, its attribute names and values counted as AWS "
        "counts them (AWS: 400 KB); beyond, ValidationException (decision 0237).",
    )
    dynamodb_max_global_indexes: int = Field(
        default=20,
        gt=0,
        description="Global secondary indexes a table may have (AWS: 20); beyond, "
        "LimitExceededException (decision 0243).",
    )
    dynamodb_max_local_indexes: int = Field(
        default=5,
        gt=0,
        description="Local secondary indexes a table may have (AWS: 5); beyond, "
        "ValidationException (decision 0243).",
    )
    dynamodb_max_projected_attributes: int = Field(
        default=100,
        gt=0,
        description="Non-key attributes projected (INCLUDE) into all the indexes of a table "
        "(AWS: 100); beyond, ValidationException (decision 0243).",
    )
    dynamodb_ttl_interval: float = Field(
        default=60.0,
        gt=0,
        description="Seconds between the passes that delete the items past their table's time "
        "to live, in every gateway (decision 0237).",
    )
    dynamodb_kinesis_interval: float = Field(
        default=1.0,
        gt=0,
        description="Seconds between the passes of the forwarder that puts the item changes of "
        "the tables with a Kinesis streaming destination into their Kinesis data streams, in "
        "every gateway (decision 0262).",
    )
    dynamodb_kinesis_lease: float = Field(
        default=30.0,
        gt=0,
        description="Seconds a gateway's forwarder holds a table's Kinesis streaming lease (one "
        "forwarder per table across gateways; another takes the table over once it ran out) "
        "(decision 0262).",
    )
    dynamodb_replication_interval: float = Field(
        default=1.0,
        gt=0,
        description="Seconds between the passes of the replicator that carries each item write "
        "of a global table's replica to its other regions, in every gateway serving all of "
        "them (decision 0265).",
    )
    dynamodb_replication_lease: float = Field(
        default=30.0,
        gt=0,
        description="Seconds a gateway's replicator holds a global table's lease (one "
        "replicator per global table across gateways; another takes it over once it ran out) "
        "(decision 0265).",
    )
    dynamodb_stream_retention: float = Field(
        default=86_400.0,
        gt=0,
        description="Seconds a DynamoDB stream keeps its records, and a disabled stream (or a "
        "deleted table's) stays readable (AWS: 24 hours); removed by the time-to-live "
        "upkeep's passes (decision 0246).",
    )
    dynamodb_stream_iterator_lifetime: float = Field(
        default=900.0,
        gt=0,
        description="Seconds a DynamoDB Streams shard iterator stays usable (AWS: 15 "
        "minutes); beyond, ExpiredIteratorException (decision 0246).",
    )
    dynamodb_stream_shards: int = Field(
        default=1,
        ge=1,
        le=100,
        description="Shards a new DynamoDB stream has open at once, at least: each item's "
        "records go to one of them by its partition key's hash; a provisioned table gets "
        "more, one per 1,000 write or 3,000 read units, as AWS's partitions (decision 0275).",
    )
    dynamodb_stream_shard_lifetime: float = Field(
        default=14_400.0,
        ge=60,
        description="Seconds a DynamoDB stream's shard stays open before it closes and a "
        "child shard (ParentShardId) takes its items' records (AWS: about 4 hours); fixed "
        "for a stream when it is enabled (decision 0275).",
    )
    dynamodb_stream_page_bytes: int = Field(
        default=1_048_576,
        gt=0,
        description="Bytes of change records one GetRecords answers at most, the first record "
        "always (AWS: 1 MB) (decision 0246).",
    )
    dynamodb_pitr_restore_lag: float = Field(
        default=300.0,
        ge=0,
        description="Seconds behind the present DynamoDB's point-in-time recovery restores at "
        "the latest: LatestRestorableDateTime is now minus this (AWS: 5 minutes) (decision "
        "0253).",
    )
    dynamodb_export_items_per_file: int = Field(
        default=100000,
        ge=1,
        description="Items one data file of a DynamoDB export to S3 holds at most (gzip'd DynamoDB "
        "JSON lines); a larger table is written as several files (decision 0261).",
    )
    dynamodb_import_max_objects: int = Field(
        default=50000,
        ge=1,
        description="Objects under an ImportTable's S3KeyPrefix an import reads at most; more "
        "fails the import (decision 0261).",
    )
    dynamodb_job_lease: float = Field(
        default=120.0,
        ge=1,
        description="Seconds a DynamoDB export or import job may go without its gateway's sign "
        "of life before any gateway marks it FAILED (its gateway stopped) (decision 0261).",
    )
    dynamodb_table_key_check: float = Field(
        default=60.0,
        ge=0,
        description="Seconds DynamoDB trusts a table's KMS key to be usable before asking KMS "
        "again: a key disabled or scheduled for deletion makes the table's reads and writes "
        "fail within this time (decision 0254).",
    )
    # Throughput enforcement (decision 0267).
    dynamodb_capacity_enforced: bool = Field(
        default=True,
        description="Whether DynamoDB throttles the item calls past a table's or global index's "
        "provisioned capacity or on-demand maximum (ProvisionedThroughputExceededException, "
        "ThrottlingException, RequestLimitExceeded) (decision 0267).",
    )
    dynamodb_burst_seconds: float = Field(
        default=300.0,
        ge=1,
        description="Seconds of unused provisioned capacity a DynamoDB table or global index "
        "keeps for bursts (AWS: 300) (decision 0267).",
    )
    dynamodb_capacity_gateways: int = Field(
        default=1,
        ge=1,
        description="Gateways sharing DynamoDB's traffic: each enforces its share (one over "
        "this) of a table's capacity in its own memory (1: each gateway enforces all of it) "
        "(decision 0267).",
    )
    dynamodb_table_max_read_capacity: int = Field(
        default=40_000,
        ge=1,
        description="ReadCapacityUnits a provisioned DynamoDB table or global index may have "
        "(AWS: 40,000); beyond, LimitExceededException; DescribeLimits' "
        "TableMaxReadCapacityUnits (decision 0267).",
    )
    dynamodb_table_max_write_capacity: int = Field(
        default=40_000,
        ge=1,
        description="WriteCapacityUnits a provisioned DynamoDB table or global index may have "
        "(AWS: 40,000); beyond, LimitExceededException; DescribeLimits' "
        "TableMaxWriteCapacityUnits (decision 0267).",
    )
    dynamodb_account_max_read_capacity: int = Field(
        default=80_000,
        ge=1,
        description="ReadCapacityUnits an account's provisioned DynamoDB tables and global "
        "indexes may have together (AWS: 80,000); beyond, LimitExceededException; "
        "DescribeLimits' AccountMaxReadCapacityUnits (decision 0267).",
    )
    dynamodb_account_max_write_capacity: int = Field(
        default=80_000,
        ge=1,
        description="WriteCapacityUnits an account's provisioned DynamoDB tables and global "
        "indexes may have together (AWS: 80,000); beyond, LimitExceededException; "
        "DescribeLimits' AccountMaxWriteCapacityUnits (decision 0267).",
    )
    dynamodb_on_demand_max_read: int = Field(
        default=40_000,
        ge=1,
        description="Read request units a second an on-demand DynamoDB table may use "
        "(AWS's per-table quota: 40,000), and the most its MaxReadRequestUnits may be; "
        "beyond, RequestLimitExceeded (decision 0267).",
    )
    dynamodb_on_demand_max_write: int = Field(
        default=40_000,
        ge=1,
        description="Write request units a second an on-demand DynamoDB table may use "
        "(AWS's per-table quota: 40,000), and the most its MaxWriteRequestUnits may be; "
        "beyond, RequestLimitExceeded (decision 0267).",
    )
    dynamodb_partition_max_read: int = Field(
        default=3_000,
        ge=1,
        description="Read units a second one partition key value of a DynamoDB table or "
        "global index may use (AWS's partition limit: 3,000), whatever the table's capacity; "
        "beyond, KeyRangeThroughputExceeded (decision 0291).",
    )
    dynamodb_partition_max_write: int = Field(
        default=1_000,
        ge=1,
        description="Write units a second one partition key value of a DynamoDB table may use "
        "(AWS's partition limit: 1,000), whatever the table's capacity; beyond, "
        "KeyRangeThroughputExceeded (decision 0291).",
    )
    dynamodb_max_resource_policy_size: int = Field(
        default=20_480,
        gt=0,
        description="Largest DynamoDB resource policy in bytes, whitespace counted (AWS: 20 KB); "
        "beyond, ValidationException (decision 0266).",
    )
