"""Amazon DynamoDB (decision 0237): the bounds of an account's tables and of their items, and
the upkeep that deletes the items past their time to live.

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
