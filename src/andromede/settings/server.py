"""The process: where its data and metadata database live, its listeners, workers, logging
and shutdown.

One group of ``andromede.settings.Settings``, which is composed of them all; the fields keep
their ``ANDROMEDE_<NAME>`` environment variables and TOML keys.
Its rules across several of its fields are plain methods, which ``Settings`` runs in a fixed
order once every field is valid.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import platformdirs
from pydantic import (
    BaseModel,
    Field,
    SecretStr,
    field_validator,
)


def _default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("andromede", appauthor=False))


def _default_workers() -> int:
    # One process per core serves small requests (Python-bound) in parallel; past four, SQLite's
    # single writer, not the CPU, is the limit of the embedded mode.
    return max(1, min(4, os.cpu_count() or 1))


class ServerSettings(BaseModel):
    """Where the process keeps its data, how it listens, logs and stops."""

    data_dir: Path = Field(
        default_factory=_default_data_dir,
        description="Folder holding the metadata database, object data and admin credentials.",
    )
    database_url: SecretStr | None = Field(
        default=None,
        description=(
            "SQLAlchemy URL of the metadata database: unset is SQLite in data_dir; "
            "postgresql+asyncpg://USER:PASSWORD@HOST:PORT/DB for the distributed mode."
        ),
    )
    database_pool_size: int = Field(
        default=10,
        ge=1,
        le=1000,
        description="PostgreSQL connections per server process, shared by reads and writes.",
    )
    database_timeout: float = Field(
        default=10.0,
        gt=0,
        description="Seconds to connect to PostgreSQL, wait for a free connection, or run a query.",
    )
    s3_host: str = Field(
        default="127.0.0.1",
        description="Address the S3 endpoint binds to; 0.0.0.0 to listen on every interface.",
    )
    s3_port: int = Field(
        default=9000, ge=0, le=65535, description="TCP port of the S3 endpoint (0 picks one)."
    )
    tls_cert: Path | None = Field(
        default=None, description="PEM certificate chain; with tls_key, serves HTTPS."
    )
    tls_key: Path | None = Field(default=None, description="PEM private key of tls_cert.")
    workers: int = Field(
        default_factory=_default_workers,
        ge=1,
        le=64,
        description="Server processes sharing the S3 port (default: CPUs, at most 4).",
    )
    api_host: str = Field(
        default="127.0.0.1",
        description="Address the management REST API binds to (loopback: operators on the host).",
    )
    api_port: int = Field(
        default=9001,
        ge=0,
        le=65535,
        description="TCP port of the management REST API, apart from S3's (0 picks one).",
    )
    api_metrics_token_file: Path | None = Field(
        default=None,
        description="A file holding the bearer token (32 to 256 characters) that the operators'"
        " Prometheus sends to scrape GET /api/v1/hosts/metrics, and that opens nothing else"
        " (decision 0389); none: that route takes an operator's SigV4 signature only.",
    )
    server: Literal["uvicorn", "granian"] = Field(
        default="uvicorn", description="ASGI server that runs the S3 endpoint."
    )
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        default="info", description="Lowest level of log records written to standard error."
    )
    log_format: Literal["json", "text"] = Field(
        default="text", description="Log line format: JSON lines for machines, text for people."
    )
    access_log: bool = Field(default=True, description="Write one access-log line per request.")
    log_flush_interval: float = Field(
        default=0.5,
        gt=0,
        le=60,
        description="Seconds a log line may wait to be written with others (WARNING and"
        " worse are written at once; every line is written at a clean stop).",
    )
    background_idle_poll_max: float = Field(
        default=5.0,
        ge=0,
        le=300,
        description="Longest pause, in seconds, that a background queue's loop (replication, event"
        " notifications, SQS message moves, EventBridge deliveries and replays, SNS"
        " replays; Lambda's Event invocations, Step Functions' executions, Logs' subscription"
        " deliveries, DynamoDB's Kinesis forwarding, and Pipes and Lambda's event source"
        " mappings while the sources they hold are empty — at most half their lease) backs"
        " off to while it finds no work: work queued by this process, or by another gateway"
        " on a shared PostgreSQL (its notifications), wakes it at once; work queued by"
        " another `serve` on the same SQLite file, a lapsed lease or a retry come due is seen"
        " within this (decision 0206; a retry or a Wait whose time the loop knows rings it"
        " then, decision 0326; an SQS send, a Kinesis put or a DynamoDB stream's change, and"
        " an SQS message's due time, ring Pipes and the mappings within their interval, the"
        " other workers of a `serve` on SQLite too, decision 0331); at or below a loop's own"
        " interval, no back-off.",
    )
    log_buffer_lines: int = Field(
        default=512,
        ge=1,
        description="Most log lines held unwritten; a full batch is written at once"
        " (1: every line written as it comes).",
    )
    body_read_timeout: float = Field(
        default=60.0, gt=0, description="Seconds a request body may stall before RequestTimeout."
    )
    shutdown_timeout: float = Field(
        default=30.0, ge=0, description="Seconds SIGTERM waits for in-flight requests to end."
    )

    @field_validator("database_url")
    @classmethod
    def _database_url_kind(cls, value: SecretStr | None) -> SecretStr | None:
        # The message never repeats the URL: it may carry a password.
        if value is not None and not value.get_secret_value().startswith(
            ("sqlite:", "sqlite+", "postgresql:", "postgresql+")
        ):
            raise ValueError("must be a sqlite:/// or postgresql+asyncpg:// SQLAlchemy URL")
        return value

    def _tls_pair(self) -> None:
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("tls_cert and tls_key go together: give both or neither")

    def _distinct_listeners(self) -> None:
        # The workers tell the two listeners apart by the port a connection arrived on.
        if self.api_port != 0 and self.api_port == self.s3_port:
            raise ValueError("api_port and s3_port must differ: the API has its own listener")

    @property
    def database_path(self) -> Path:
        return self.data_dir / "metadata.sqlite3"

    @property
    def effective_database_url(self) -> str:
        """``database_url`` in clear (handle with care), or the embedded SQLite file's URL."""
        if self.database_url is None:
            return f"sqlite:///{self.database_path}"
        return self.database_url.get_secret_value()

    @property
    def credentials_path(self) -> Path:
        return self.data_dir / "admin-credentials"

    @property
    def operator_credentials_path(self) -> Path:
        return self.data_dir / "operator-credentials"

    @property
    def scheme(self) -> str:
        return "https" if self.tls_cert else "http"
