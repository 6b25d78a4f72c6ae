"""Amazon Data Firehose (decision 0223): the bounds of its delivery streams and records, and
the deliverer that writes their buffers into the buckets or sends them to HTTP endpoints
(decision 0250).

One group of ``andromede.settings.Settings``, which is composed of them all; the fields keep
their ``ANDROMEDE_<NAME>`` environment variables and TOML keys.
"""

from __future__ import annotations

from pydantic import BaseModel, Field, ValidationInfo, field_validator

from andromede.settings.cidr import cidr_networks
from andromede.settings.units import MIB


class FirehoseSettings(BaseModel):
    """Firehose's limits and deliverer."""

    firehose_max_delivery_streams: int = Field(
        default=5000,
        gt=0,
        description="Delivery streams an account may hold in a Region (AWS: 5,000 in the "
        "largest Regions) (decision 0223).",
    )
    firehose_max_record_size: int = Field(
        default=1_024_000,
        gt=0,
        le=1_024_000,
        description="Largest record in bytes, before base64 (AWS: 1,000 KiB) (decision 0223).",
    )
    firehose_max_buffered_bytes: int = Field(
        default=256 * 1024 * 1024,
        gt=0,
        description="Bytes of records a delivery stream may hold not yet delivered (sealed in "
        "the database); beyond, its puts are answered ServiceUnavailableException (decision "
        "0223).",
    )
    firehose_delivery_poll_interval: float = Field(
        default=5.0,
        gt=0,
        description="Seconds between the deliverer's passes in every gateway, and between the "
        "attempts of a failing delivery (AWS retries every 5 s) (decision 0223).",
    )
    firehose_delivery_retry_duration: int = Field(
        default=86400,
        ge=0,
        description="Seconds a failing delivery into S3 is retried before its records are "
        "written under the error output prefix (AWS: 24 hours) (decision 0223).",
    )
    firehose_delivery_lease: int = Field(
        default=60,
        gt=0,
        description="Seconds a gateway holds a delivery stream it delivers; another takes it "
        "over once the lease ran out (decision 0223).",
    )
    firehose_http_endpoint_timeout: float = Field(
        default=50.0,
        gt=0,
        le=180,
        description="Seconds an HTTP endpoint destination has to answer a delivery request, "
        "connection included, before the attempt fails and is retried (AWS: 3 minutes; kept "
        "below firehose_delivery_lease so that one gateway at a time sends a batch) "
        "(decision 0250).",
    )
    firehose_http_endpoint_max_response: int = Field(
        default=MIB,
        gt=0,
        description="Bytes of an HTTP endpoint's answer read at most; a longer one fails the "
        "attempt (HttpEndpoint.ResponseTooLarge) (decision 0250).",
    )
    firehose_http_endpoint_max_backoff: int = Field(
        default=60,
        gt=0,
        description="Seconds at most between two attempts of a failing HTTP endpoint delivery "
        "(the backoff doubles from firehose_delivery_poll_interval) (decision 0250).",
    )
    firehose_http_endpoint_allow_http: bool = Field(
        default=False,
        description="Whether an HTTP endpoint destination's Url may be http:// (AWS: https "
        "only); for loopback tests (decision 0250).",
    )
    firehose_http_endpoint_allow_cidrs: tuple[str, ...] = Field(
        default=(),
        description="Networks (CIDR) an HTTP endpoint destination may be on beside public "
        "unicast addresses; the host is resolved at each attempt and refused if an address "
        "is internal and in none of these (decision 0250).",
    )
    firehose_max_active_partitions: int = Field(
        default=500,
        gt=0,
        le=5000,
        description="Partitions a dynamically partitioned delivery stream writes from one "
        "batch (AWS: 500 active partitions a stream, raised up to 5,000 on request); the "
        "records of further partitions go under the error output prefix with "
        "DynamicPartitioning.ActivePartitionsLimitExceeded (decision 0270).",
    )
    firehose_jq_timeout: float = Field(
        default=10.0,
        gt=0,
        description="Seconds a dynamically partitioned batch's JQ queries may run, in a "
        "separate process killed past them; the batch's records then go under the error "
        "output prefix (DynamicPartitioning.MetadataExtractionFailed) (decision 0270).",
    )
    firehose_lambda_max_payload: int = Field(
        default=6 * MIB,
        gt=0,
        le=6 * MIB,
        description="Bytes of a Lambda processor's invocation event at most (Lambda's "
        "synchronous payload limit: 6 MB), besides the processor's BufferSizeInMBs; a "
        "transformed batch is cut into invocations no larger (decision 0315).",
    )
    firehose_max_decompressed_record: int = Field(
        default=8 * MIB,
        gt=0,
        description="Bytes a record may inflate to under a Decompression processor (a "
        "subscription filter's envelope holds at most 1 MiB of log events); a record inflating "
        "past it goes under the error output's decompression-failed folder (decision 0334).",
    )
    firehose_jq_max_memory: int = Field(
        default=512 * MIB,
        gt=0,
        description="Bytes of address space the process running a batch's JQ queries may "
        "take (decision 0270).",
    )

    @field_validator("firehose_http_endpoint_allow_cidrs")
    @classmethod
    def _http_endpoint_networks(
        cls, value: tuple[str, ...], info: ValidationInfo
    ) -> tuple[str, ...]:
        return cidr_networks(value, info)
