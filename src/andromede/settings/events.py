"""EventBridge (decision 0192): the limits of its calls (buses, rules, targets, PutEvents'
entries and size, patterns), the retries of its deliveries, the pace of its scheduled
rules' dispatcher, its archives and replays (decision 0196), and its connections and API
destinations (decision 0200); and EventBridge Pipes' bounds and runner (decision 0258).

One group of ``andromede.settings.Settings``, which is composed of them all; the fields keep
their ``ANDROMEDE_<NAME>`` environment variables and TOML keys.
"""

from __future__ import annotations

from pydantic import BaseModel, Field, ValidationInfo, field_validator

from andromede.settings.cidr import cidr_networks
from andromede.settings.units import KIB


class EventsSettings(BaseModel):
    """EventBridge's limits, deliveries and schedules; Pipes' bounds and runner."""

    events_max_buses: int = Field(
        default=100,
        gt=0,
        description="Custom event buses an account may have in a Region, the default bus aside "
        "(AWS: 100) (decisions 0192, 0349, 0402).",
    )
    events_max_endpoints: int = Field(
        default=100,
        gt=0,
        description="Global endpoints an account may have in a Region (LimitExceededException "
        "beyond) (decision 0355).",
    )
    events_max_rules: int = Field(
        default=300,
        gt=0,
        description="Rules one event bus may hold (AWS: 300) (decision 0192).",
    )
    events_max_targets: int = Field(
        default=5,
        gt=0,
        description="Targets one rule may have (AWS: 5) (decision 0192).",
    )
    events_max_put_entries: int = Field(
        default=10,
        gt=0,
        description="Entries one PutEvents may carry (AWS: 10) (decision 0192).",
    )
    events_max_put_size: int = Field(
        default=256 * KIB,
        gt=0,
        description="Bytes the entries of one PutEvents may total, counted as AWS counts them "
        "(AWS: 256 KB) (decision 0192).",
    )
    events_max_pattern_length: int = Field(
        default=4096,
        gt=0,
        description="Characters an EventPattern may hold (decision 0192).",
    )
    events_max_input: int = Field(
        default=8192,
        gt=0,
        description="Characters a target's Input or InputTemplate may hold (AWS: 8,192) "
        "(decision 0192).",
    )
    events_max_body_size: int = Field(
        default=512 * KIB,
        gt=0,
        description="Largest EventBridge request body in bytes: room for a PutEvents of "
        "events_max_put_size once JSON-escaped (decision 0192).",
    )
    events_list_page: int = Field(
        default=100,
        gt=0,
        description="Buses, rules, targets or rule names one List call answers at most, its "
        "Limit's ceiling (AWS: 100) (decision 0192).",
    )
    events_max_policy_size: int = Field(
        default=10240,
        gt=0,
        description="Largest event bus policy in bytes, PutPermission's whole Policy or "
        "the statements it adds up to (AWS: 10 KB) (decision 0192, session 48).",
    )
    events_delivery_max_attempts: int = Field(
        default=185,
        ge=0,
        description="Retries of a delivery to a target at most, whatever its RetryPolicy "
        "(AWS's default and ceiling: 185) (decision 0192).",
    )
    events_delivery_retry_base: float = Field(
        default=1.0,
        gt=0,
        description="Seconds before a delivery's first retry, doubling at each next one up to "
        "a minute (decision 0192).",
    )
    events_delivery_lease: float = Field(
        default=60.0,
        gt=0,
        le=3600,
        description="Seconds a gateway's worker holds the deliveries it claimed; one stopped "
        "mid-delivery leaves them to the others after it (decision 0192, session 48).",
    )
    events_delivery_batch: int = Field(
        default=50,
        ge=1,
        le=1000,
        description="Deliveries a worker claims at once from the durable queue "
        "(decision 0192, session 48).",
    )
    events_delivery_poll_interval: float = Field(
        default=1.0,
        gt=0,
        le=60,
        description="Seconds between two looks of an idle delivery worker at the durable "
        "queue; a PutEvents of its own gateway wakes it at once (decision 0192, session 48).",
    )
    events_schedule_interval: float = Field(
        default=10.0,
        gt=0,
        description="Seconds between two passes of the scheduled rules' dispatcher, which "
        "every gateway runs, each period fired by one (decision 0192).",
    )
    events_opened_rule_cache: int = Field(
        default=10_000,
        ge=0,
        description="Rules' patterns and targets' inputs sealed under their bus's KMS key "
        "that a gateway keeps opened for PutEvents' matching, least recently used out first; "
        "0 opens them at every PutEvents (decision 0218).",
    )
    events_reseal_interval: float = Field(
        default=30.0,
        gt=0,
        description="Seconds between two looks of every gateway for event buses whose "
        "re-encryption after a change of KMS key was cut short, resumed (decision 0218).",
    )
    events_max_archives: int = Field(
        default=10,
        gt=0,
        description="Archives an account may have in a Region, all its buses there together "
        "(decisions 0196, 0402).",
    )
    events_max_active_replays: int = Field(
        default=10,
        gt=0,
        description="Replays an account may have not finished (STARTING, RUNNING or "
        "CANCELLING) at once in a Region (decisions 0196, 0402).",
    )
    events_replay_batch: int = Field(
        default=100,
        ge=1,
        le=10000,
        description="Archived events one step of a replay re-sends; a shorter step ends it "
        "(decision 0196).",
    )
    events_replay_lease: float = Field(
        default=60.0,
        gt=0,
        le=3600,
        description="Seconds a gateway holds the replays it works; one stopped mid-replay "
        "leaves them to another after it, which resumes from the replay's cursor "
        "(decision 0196).",
    )
    events_replay_interval: float = Field(
        default=1.0,
        gt=0,
        le=60,
        description="Seconds between two looks of an idle replay runner; a StartReplay of its "
        "own gateway wakes it at once (decision 0196).",
    )
    events_archive_expiry_interval: float = Field(
        default=300.0,
        gt=0,
        description="Seconds between two sweeps of the archives' events past their "
        "RetentionDays, which every gateway runs (decision 0196).",
    )
    events_archive_expiry_batch: int = Field(
        default=1000,
        ge=1,
        le=100000,
        description="Expired archived events one sweep step deletes at most, a few steps a "
        "sweep (decision 0196).",
    )
    events_max_connections: int = Field(
        default=3000,
        gt=0,
        description="Connections an account may have in a Region (AWS: 3,000) (decisions 0200, "
        "0402, 0408).",
    )
    events_max_api_destinations: int = Field(
        default=3000,
        gt=0,
        description="API destinations an account may have in a Region (AWS: 3,000) "
        "(decisions 0200, 0402).",
    )
    events_max_http_parameters: int = Field(
        default=100,
        gt=0,
        le=1000,
        description="Header, query string and body parameters a connection's "
        "InvocationHttpParameters (or OAuthHttpParameters) may hold, each kind (decision 0200).",
    )
    events_api_destination_timeout: float = Field(
        default=5.0,
        gt=0,
        le=60,
        description="Seconds an API destination's invocation (or an OAuth token request) may "
        "take, connection included, before it fails and is retried (AWS: 5) (decision 0200).",
    )
    events_connection_secret_cache: float = Field(
        default=60.0,
        ge=0,
        le=3600,
        description="Seconds a gateway keeps a connection's credentials read from its Secrets "
        "Manager secret for the API destinations' deliveries; 0 reads the secret at every "
        "invocation (decision 0204).",
    )
    events_api_destination_max_response: int = Field(
        default=64 * KIB,
        gt=0,
        description="Bytes of an OAuth authorization endpoint's answer read at most; a longer "
        "one fails the authorization (decision 0200).",
    )
    events_api_destination_allow_http: bool = Field(
        default=False,
        description="Whether an API destination's InvocationEndpoint (and an OAuth "
        "AuthorizationEndpoint) may be http:// (AWS: https only); for loopback tests "
        "(decision 0200).",
    )
    events_api_destination_allow_cidrs: tuple[str, ...] = Field(
        default=(),
        description="Networks (CIDR) an API destination or OAuth endpoint may be on beside "
        "public unicast addresses; the host is resolved at each invocation and refused if an "
        "address is internal and in none of these (decision 0200).",
    )

    pipes_max_pipes: int = Field(
        default=1000,
        gt=0,
        description="Pipes an account may hold in a Region (AWS: 1,000) (decision 0258).",
    )
    pipes_poll_interval: float = Field(
        default=1.0,
        gt=0,
        le=300,
        description="Seconds between the pipes runner's passes in every gateway: how often a "
        "pipe's source is read and its transitional state settled (decision 0258).",
    )
    pipes_reader_lease: float = Field(
        default=60.0,
        gt=0,
        le=3600,
        description="Seconds a gateway holds the pipes it reads; one stopped leaves them to "
        "the others after it (decision 0258).",
    )
    pipes_enrichment_max_response: int = Field(
        default=6 * 1024 * 1024,
        gt=0,
        le=64 * 1024 * 1024,
        description="Bytes of an enrichment's answer a pipe reads; a longer one fails the "
        "execution (AWS: 6 MB) (decision 0268).",
    )

    stepfunctions_max_state_machines: int = Field(
        default=10_000,
        gt=0,
        description="State machines an account may hold in a Region (AWS: 10,000) (decision 0271).",
    )
    stepfunctions_max_definition_size: int = Field(
        default=1_048_576,
        gt=0,
        le=1_048_576,
        description="Characters a state machine's definition may have (AWS: 1,048,576) "
        "(decision 0271).",
    )
    stepfunctions_max_payload_size: int = Field(
        default=262_144,
        gt=0,
        le=262_144,
        description="Bytes an execution's input may have (AWS: 256 KiB) (decision 0271).",
    )
    stepfunctions_max_history_events: int = Field(
        default=25_000,
        ge=10,
        description="History events an execution may leave; one that would leave more fails "
        "States.Runtime (AWS: 25,000) (decision 0271).",
    )
    stepfunctions_stop_wait: float = Field(
        default=5.0,
        gt=0,
        le=60,
        description="Seconds a StopExecution waits for the step it halts in this gateway to "
        "end and hand over its events, written before ExecutionAborted; a step not ended by "
        "then is stopped without them (decision 0407).",
    )
    stepfunctions_pass_interval: float = Field(
        default=1.0,
        gt=0,
        le=300,
        description="Seconds between the Step Functions runner's passes in every gateway: how "
        "soon an execution due (started, or at a Wait's end) is taken up when no start woke "
        "it (decision 0271).",
    )
    stepfunctions_execution_lease: float = Field(
        default=60.0,
        gt=0,
        le=3600,
        description="Seconds a gateway holds the executions it drives, renewed at each "
        "transition; one stopped leaves them to the others after it (decision 0271).",
    )
    stepfunctions_max_activities: int = Field(
        default=10_000,
        gt=0,
        description="Activities an account may hold in a Region (AWS: 10,000) (decision 0271).",
    )
    stepfunctions_activity_poll_timeout: float = Field(
        default=60.0,
        ge=0,
        le=300,
        description="Seconds GetActivityTask waits for a task before answering none (AWS: 60) "
        "(decision 0271).",
    )
    stepfunctions_express_max_seconds: float = Field(
        default=300.0,
        gt=0,
        le=300,
        description="Seconds a StartSyncExecution may run before it ends TIMED_OUT (AWS: 5 "
        "minutes) (decision 0271).",
    )
    stepfunctions_execution_retention_days: int = Field(
        default=90,
        gt=0,
        le=3650,
        description="Days an ended execution and its history are kept, then deleted and its "
        "name free again (AWS: 90) (decision 0271).",
    )
    stepfunctions_max_versions: int = Field(
        default=1000,
        gt=0,
        description="Versions a state machine may have published and not deleted (AWS: 1,000) "
        "(decision 0283).",
    )
    stepfunctions_max_aliases: int = Field(
        default=100,
        gt=0,
        description="Aliases a state machine may have (AWS: 100) (decision 0283).",
    )
    stepfunctions_redrive_days: int = Field(
        default=14,
        gt=0,
        le=3650,
        description="Days after its end a failed, aborted or timed-out execution may be "
        "redriven (AWS: 14) (decision 0283).",
    )
    stepfunctions_map_run_max_concurrency: int = Field(
        default=40,
        gt=0,
        le=10_000,
        description="Child executions of one distributed Map run running at once in a gateway, "
        "whatever its MaxConcurrency asks (AWS: 10,000) (decision 0322).",
    )
    stepfunctions_map_run_max_items: int = Field(
        default=100_000,
        gt=0,
        description="Items one distributed Map run may read (an ItemReader's rows or objects, "
        "or its ItemsPath's array); beyond, States.ItemReaderFailed (decision 0322).",
    )
    stepfunctions_map_run_children_kept: int = Field(
        default=100_000,
        ge=0,
        description="Child executions of one distributed Map run kept for ListExecutions "
        "(mapRunArn), DescribeExecution and GetExecutionHistory, the first to begin (AWS: "
        "all); the others run and are counted, not kept; 0 keeps none (decision 0369).",
    )
    stepfunctions_item_reader_max_bytes: int = Field(
        default=64 * 1024 * 1024,
        gt=0,
        description="Largest S3 object a distributed Map's ItemReader reads whole (a JSON, "
        "JSONL or CSV object, a manifest), and largest record or Parquet column chunk a "
        "streamed reader holds at once (an inventory's or Athena manifest's data files, "
        "Parquet: read a piece at a time, any size), in bytes (AWS: 10 GB); beyond, "
        "States.ItemReaderFailed (decisions 0322, 0345).",
    )
    stepfunctions_max_variable_size: int = Field(
        default=256 * 1024,
        gt=0,
        description="Bytes of JSON one workflow variable may hold; an Assign of a larger one "
        "fails the state States.DataLimitExceeded (AWS: 256 KiB) (decision 0329).",
    )
    stepfunctions_max_assign_size: int = Field(
        default=256 * 1024,
        gt=0,
        description="Bytes of JSON the variables one Assign sets may hold together (AWS: "
        "256 KiB) (decision 0329).",
    )
    stepfunctions_max_variables_size: int = Field(
        default=10 * 1024 * 1024,
        gt=0,
        description="Bytes of JSON an execution's variables may hold in all, its branches' "
        "included (AWS: 10 MiB) (decision 0329).",
    )

    @field_validator("events_api_destination_allow_cidrs")
    @classmethod
    def _api_destination_networks(
        cls, value: tuple[str, ...], info: ValidationInfo
    ) -> tuple[str, ...]:
        return cidr_networks(value, info)
