"""EventBridge (decision 0192): its service over the SQL store, the deliveries to its targets
(the platform's SQS queues and SNS topics; API destinations over HTTP, decision 0200, their
targets' roles judged by :class:`RoleInvokes`; Kinesis and Firehose streams as their targets'
roles, decision 0238; event buses of the account or another, decision 0273; CloudWatch Logs
groups by their resource policies, decision 0277), the scheduled rules' dispatcher, the
archives and
their replays' runner (decision 0196), the API, and the instances' state changes as EC2's
events into their owner's default bus.

A delivery is EventBridge's service principal ``events.amazonaws.com`` writing into the
target, as on AWS: the queue's ``Policy`` (or the topic's) must let it ``sqs:SendMessage``
(``sns:Publish``) with ``aws:SourceArn`` the rule's ARN — what the AWS console adds, and what
Terraform users write as an ``aws_sqs_queue_policy``. It is the rule S3's bucket events follow
here (decision 0163's ``s3_may_send``), stricter than SNS's same-account deliveries, because a
rule's pattern can match events of every source of the account.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from andromede.alarm_adapters import AlarmStateEventSender
from andromede.audit.service import AuditService
from andromede.billing.service import BillingService
from andromede.compute.model import Instance
from andromede.compute.service_core import TransitionListener
from andromede.compute.spot_market import SpotWarning
from andromede.connection_secret_adapters import SecretsManagerConnectionSecrets
from andromede.db.database import Database
from andromede.db.doorbells import EVENT_DELIVERIES, EVENT_REPLAYS
from andromede.db.notification_events import EventSealer
from andromede.event_bus_targets import RoleBusTargets
from andromede.event_key_adapters import KmsEventKeys
from andromede.event_stream_targets import EVENTS_PRINCIPAL, EventsRoles, RoleStreamTargets
from andromede.events.api_invoker import ApiDestinationInvoker, InvocationPolicy
from andromede.events.archive_store_sql import SqlArchiveStore
from andromede.events.archives import ArchiveLimits, ArchiveService
from andromede.events.connection_store_sql import SqlConnectionStore
from andromede.events.connections import ConnectionLimits, ConnectionService
from andromede.events.delivery_queue_sql import SqlDeliveryQueue
from andromede.events.dispatcher import AccountMetric, Deliveries, DeliveryRefused
from andromede.events.model import DEFAULT_BUS, event_envelope, parse_arn
from andromede.events.replays import ReplayPolicy, ReplayRunner
from andromede.events.reseal import BusResealer
from andromede.events.s3_events import s3_bus_events
from andromede.events.scheduler import Scheduler
from andromede.events.service import EventsLimits, EventsService
from andromede.events.store_sql import SqlEventsStore
from andromede.eventsapi.app import EventsApp
from andromede.firehose.service import FirehoseService
from andromede.firehoseapi.app import FirehoseApp
from andromede.function_invocations import EventFunctionTargets, lambda_invocations
from andromede.http.outbound import networks
from andromede.http.ratelimit import RateLimiter
from andromede.iam.policy.service_grants import service_may
from andromede.iam.service import IdentityService
from andromede.kinesis.service import KinesisService
from andromede.kinesisapi.app import KinesisApp
from andromede.kms.customer_keys import CustomerKeyService
from andromede.kms.service import KeyService
from andromede.log_group_targets import EventLogTargets, LogTargetWriter
from andromede.logs.service import LogsService
from andromede.logsapi.app import LogsApp
from andromede.metrics.regions import series_owner
from andromede.metrics.runs_sql import SqlMetricRuns
from andromede.metrics.sink import MetricsSink
from andromede.notifications.errors import NotificationError
from andromede.notifications.pubsub import PubSubService
from andromede.notifications.service import TopicService
from andromede.queues.errors import QueueError
from andromede.queues.fifo import is_fifo
from andromede.queues.model import TRACE_HEADER, MessageAttribute
from andromede.queues.service import QueueService
from andromede.secrets.service import SecretService
from andromede.settings import Settings
from andromede.wiring.events_endpoints import endpoint_service
from andromede.wiring.events_regions import (
    home_archive_store,
    home_connection_store,
    home_store,
    regional_archives,
    regional_connections,
    regional_services,
    replay_regions,
)

__all__ = [
    "EVENTS_PRINCIPAL",
    "BucketEventBus",
    "EventTargets",
    "EventsParts",
    "events_parts",
    "instance_state_events",
    "spot_interruption_warnings",
]


class EventTargets:
    """The platform's queues and topics as EventBridge's targets: the account's own written
    by ``events.amazonaws.com`` (their policy must let it in with the rule as
    ``aws:SourceArn``), another account's as the target's execution role (decision 0273:
    the role's policies and the queue's or topic's policy must both allow it, as AWS's
    "Sending events to an AWS service in another account" says)."""

    def __init__(self, queues: QueueService, topics: TopicService, pubsub: PubSubService) -> None:
        self._queues = queues
        self._topics = topics
        self._pubsub = pubsub
        # The targets' roles (decision 0273); None: another account's targets are refused.
        self.roles: EventsRoles | None = None

    async def send(
        self,
        tenant_id: str,
        arn: str,
        message: str,
        *,
        rule_arn: str,
        group_id: str | None,
        dedup_id: str,
        attributes: dict[str, str] | None = None,
        role_arn: str | None = None,
        trace: str | None = None,
    ) -> None:
        parts = parse_arn(arn)
        if parts is None:
            raise DeliveryRefused("NO_RESOURCE", f"{arn} is no target")
        service, region, account, name = parts
        sender = Sender(tenant_id, rule_arn, role_arn, trace)
        if service == "sqs":
            # The queue of the ARN's Region (decision 0414): a rule's, never a namesake's.
            queues = self._queues.in_region(region)
            if queues is None:
                raise _missing(sender, account, f"queue {name}")
            await self._to_queue(
                queues, sender, account, name, message, group_id, dedup_id, attributes
            )
        elif service == "sns":
            await self._to_topic(sender, account, arn, message, group_id, dedup_id)
        else:
            raise DeliveryRefused("NO_RESOURCE", f"{arn} is no served target")

    async def _check(
        self, sender: Sender, action: str, resource: str, owner: str, policy: str | None
    ) -> None:
        """DeliveryRefused unless ``sender`` may ``action`` on the queue or topic."""
        if owner == sender.tenant_id:
            if not service_may(
                policy,
                service=EVENTS_PRINCIPAL,
                action=action,
                resource=resource,
                resource_account=owner,
                source_arn=sender.rule_arn,
                source_account=owner,
                region=(parse_arn(resource) or ("", "", "", ""))[1],
            ):
                raise DeliveryRefused(
                    "NO_PERMISSIONS", f"the policy of {resource} does not let {EVENTS_PRINCIPAL} in"
                )
            return
        roles, session = self.roles, None
        if roles is not None and sender.role_arn is not None:
            session = await roles.session(
                sender.tenant_id, sender.role_arn, rule_arn=sender.rule_arn
            )
        if roles is None or session is None:
            raise DeliveryRefused(
                "FAILED_TO_ASSUME_ROLE",
                f"{EVENTS_PRINCIPAL} may not assume the role {sender.role_arn}",
            )
        if not await roles.allowed(
            session, action, resource, resource_policy=policy, resource_account=owner
        ):
            raise DeliveryRefused(
                "NO_PERMISSIONS",
                f"the target's role may not {action} on {resource} (the role's policies and "
                "the target's policy must both allow it)",
            )

    async def _to_queue(
        self,
        queues: QueueService,
        sender: Sender,
        account: str,
        name: str,
        message: str,
        group_id: str | None,
        dedup_id: str,
        attributes: dict[str, str] | None,
    ) -> None:
        try:
            queue = await queues.get_queue(account, account, name)
        except QueueError as exc:
            raise _missing(sender, account, f"queue {name}") from exc
        await self._check(
            sender, "sqs:SendMessage", queue.arn, queue.tenant_id, queue.attributes.get("Policy")
        )
        fifo = is_fifo(queue)
        try:
            await queues.send_message(
                queue,
                message,
                {
                    k: MessageAttribute("String", string_value=v)
                    for k, v in (attributes or {}).items()
                },
                # The event's trace, as EventBridge gives it to SQS (decision 0351).
                {}
                if sender.trace is None
                else {TRACE_HEADER: MessageAttribute("String", string_value=sender.trace)},
                None,
                EVENTS_PRINCIPAL,
                group_id=group_id if fifo else None,
                # The event's id, as EventBridge's deduplication id for a FIFO queue: a retry
                # of one delivery is not queued twice.
                dedup_id=dedup_id if fifo else None,
            )
        except QueueError as exc:  # refused whatever the try (too large, no group…)
            raise DeliveryRefused("INVALID_PARAMETER", str(exc)) from exc

    async def _to_topic(
        self,
        sender: Sender,
        account: str,
        arn: str,
        message: str,
        group_id: str | None,
        dedup_id: str,
    ) -> None:
        try:
            topic = await self._topics.get_topic(account, arn)
        except NotificationError as exc:
            raise _missing(sender, account, f"topic {arn}") from exc
        await self._check(
            sender, "sns:Publish", topic.arn, topic.tenant_id, topic.attributes.get("Policy")
        )
        try:
            await self._pubsub.publish(
                account,
                arn,
                message,
                None,
                {},
                None,
                group_id=group_id if topic.fifo else None,
                dedup_id=dedup_id if topic.fifo else None,
                trace=sender.trace,
            )
        except NotificationError as exc:
            raise DeliveryRefused("INVALID_PARAMETER", str(exc)) from exc


def _missing(sender: Sender, owner: str, what: str) -> DeliveryRefused:
    """A target that is not there: ``NO_RESOURCE`` for the account's own; for another
    account's, what a target whose policy lets no one in answers (``NO_PERMISSIONS``), so that
    a rule cannot probe which queues and topics another account holds."""
    if owner == sender.tenant_id:
        return DeliveryRefused("NO_RESOURCE", f"{what} does not exist")
    return DeliveryRefused("NO_PERMISSIONS", f"{what} does not let the target's role in")


@dataclass(frozen=True, slots=True)
class Sender:
    """Who sends a delivery: the rule's account, the rule, the target's execution role, and
    the event's trace header (decision 0351)."""

    tenant_id: str
    rule_arn: str
    role_arn: str | None
    trace: str | None = None


class RoleInvokes:
    """Whether a rule target's role may invoke an API destination (decision 0200): a role of
    the target's account, trusting ``events.amazonaws.com``, whose identity policies allow
    ``events:InvokeApiDestination`` on the destination's ARN — what AWS requires."""

    def __init__(self, identity: IdentityService, region: str) -> None:
        self._roles = EventsRoles(identity, region)

    async def __call__(
        self, tenant_id: str, role_arn: str, destination_arn: str, rule_arn: str | None
    ) -> bool:
        session = await self._roles.session(tenant_id, role_arn, rule_arn=rule_arn)
        return session is not None and await self._roles.allowed(
            session, "events:InvokeApiDestination", destination_arn
        )


class BucketEventBus:
    """The buckets' ``EventBridgeConfiguration`` (decision 0192's session 48 addendum): the
    notification deliverer's ``bus`` sink. Each S3 record the bucket's events queue holds
    becomes S3's bus event, routed into the owner's default bus (its deliveries written
    before the record leaves the notification queue: at least once end to end)."""

    def __init__(self, service: EventsService) -> None:
        self._service = service

    async def deliver(
        self, tenant_id: str, destination: str, message: str, trace: str | None = None
    ) -> bool:
        # ``trace``: the bucket write's, kept with each event for its targets (decision 0351).
        try:
            records = json.loads(message)
        except ValueError:
            return False  # never routable: dropped
        events = s3_bus_events(tenant_id, records)
        if events:
            traces = {str(event.get("id")): trace for event in events}
            await self._service.route(tenant_id, DEFAULT_BUS, events, traces=traces)
        return True


class RuleMetrics:
    """AWS/Events' per-rule metrics (decision 0273) into the platform's metrics sink: each a
    count of 1, dimension ``RuleName`` for a rule of the default bus, ``EventBusName`` and
    ``RuleName`` for a custom bus's, as AWS publishes them. Decision 0332: those AWS also
    publishes without dimension (:data:`AGGREGATED`) and by bus alone (:data:`BY_BUS`) are
    recorded there too, and :meth:`measure` records the account's own (PutEvents', the
    ingestion latency, MatchedEvents by bus)."""

    NAMESPACE: Final = "AWS/Events"
    # AWS's "Monitoring Amazon EventBridge": the per-rule metrics whose dimensions include
    # "None", and those whose include EventBusName alone.
    AGGREGATED: Final = frozenset(
        {
            "Invocations",
            "InvocationAttempts",
            "SuccessfulInvocationAttempts",
            "RetryInvocationAttempts",
            "ThrottledRules",
        }
    )
    BY_BUS: Final = frozenset(
        {"InvocationAttempts", "SuccessfulInvocationAttempts", "RetryInvocationAttempts"}
    )

    def __init__(self, sink: MetricsSink, home: str) -> None:
        self._sink = sink
        # Decision 0360: the default Region, whose series are the account's; another
        # Region's are kept apart (``metrics.regions``), as AWS publishes each Region's.
        self._home = home

    def __call__(self, tenant_id: str, rule: str, name: str) -> None:
        parts = parse_arn(rule)
        if parts is None or not parts[3].startswith("rule/"):
            return
        tenant_id = series_owner(tenant_id, parts[1], self._home)  # the rule's Region's
        path = parts[3].removeprefix("rule/").split("/")
        bus = "/".join(path[:-1]) or DEFAULT_BUS
        dims = [("RuleName", path[-1])]
        if len(path) > 1:
            dims = [("EventBusName", bus), *dims]
        self._sink.record(tenant_id, self.NAMESPACE, name, dims, 1.0, "Count")
        if name in self.AGGREGATED:
            self._sink.record(tenant_id, self.NAMESPACE, name, [], 1.0, "Count")
        if name in self.BY_BUS:
            self._sink.record(
                tenant_id, self.NAMESPACE, name, [("EventBusName", bus)], 1.0, "Count"
            )

    def measure(self, tenant_id: str, name: str, value: float, unit: str, bus: str | None) -> None:
        """An account-wide metric of the default Region, without dimension, and by ``bus``
        when given."""
        self._sink.record(tenant_id, self.NAMESPACE, name, [], value, unit)
        if bus is not None:
            self._sink.record(tenant_id, self.NAMESPACE, name, [("EventBusName", bus)], value, unit)

    def measure_in(self, region: str) -> AccountMetric:
        """:meth:`measure` for the service of ``region`` (decision 0360)."""

        def measure(tenant_id: str, name: str, value: float, unit: str, bus: str | None) -> None:
            self.measure(series_owner(tenant_id, region, self._home), name, value, unit, bus)

        return measure


class EventsParts:
    """EventBridge as ``serve`` runs it: the service over the SQL store and its durable
    deliveries (sealed by ``sealer``, the notification events' sealer), then the API
    (:meth:`api`), the scheduled rules' dispatcher and the deliveries' worker
    (:meth:`background`)."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        targets: EventTargets,
        sealer: EventSealer | None = None,
        identity: IdentityService | None = None,
        metrics: MetricsSink | None = None,
    ) -> None:
        """``metrics``: the platform's sink of AWS/Events' rule metrics (decision 0273)."""
        self._settings = settings
        self._db = db
        self._identity = identity
        whole = SqlEventsStore(db, settings.region)
        # Decision 0349: buses of the other declared Regions are kept beside the default's.
        self.store = home_store(settings, whole)
        # Connections and API destinations (decision 0200): credentials sealed as deliveries.
        connection_store = SqlConnectionStore(db, settings.region, sealer)
        self.connections = ConnectionService(
            home_connection_store(settings, connection_store),
            region=settings.region,
            limits=ConnectionLimits(
                max_connections=settings.events_max_connections,
                max_destinations=settings.events_max_api_destinations,
                max_parameters=settings.events_max_http_parameters,
                allow_http=settings.events_api_destination_allow_http,
            ),
        )
        self.invoker = ApiDestinationInvoker(
            self.connections,
            None if identity is None else RoleInvokes(identity, settings.region),
            InvocationPolicy(
                timeout=settings.events_api_destination_timeout,
                max_response=settings.events_api_destination_max_response,
                allowed=networks(settings.events_api_destination_allow_cidrs),
                allow_http=settings.events_api_destination_allow_http,
            ),
        )
        # Decision 0400: each declared Region's connections, the invoker choosing by ARN.
        self.regional_connections = regional_connections(
            settings, self.connections, connection_store
        )
        self.invoker.regions = self.regional_connections
        self.deliveries = Deliveries(
            targets,
            SqlDeliveryQueue(db, sealer),
            max_attempts=settings.events_delivery_max_attempts,
            retry_base=settings.events_delivery_retry_base,
            lease=settings.events_delivery_lease,
            batch=settings.events_delivery_batch,
            poll_interval=settings.events_delivery_poll_interval,
            api=self.invoker,
            idle_poll_max=settings.background_idle_poll_max,
            doorbell=db.doorbells.of(EVENT_DELIVERIES),
        )
        limits = EventsLimits(
            max_buses=settings.events_max_buses,
            max_rules=settings.events_max_rules,
            max_targets=settings.events_max_targets,
            max_put_entries=settings.events_max_put_entries,
            max_put_size=settings.events_max_put_size,
            max_pattern_length=settings.events_max_pattern_length,
            max_input=settings.events_max_input,
            opened_rule_cache=settings.events_opened_rule_cache,
        )
        self.service = EventsService(
            self.store, self.deliveries, region=settings.region, limits=limits
        )
        # Decision 0218: a change of a bus's key re-seals its rules, targets and deliveries.
        self.resealer = BusResealer(
            self.store,
            self.service.seals,
            self.deliveries,
            interval=settings.events_reseal_interval,
        )
        self.service.resealer = self.resealer
        # Archives (decision 0196): sealed as the deliveries are, told of every routed event.
        self.archive_store = SqlArchiveStore(db, settings.region, sealer)
        archive_limits = ArchiveLimits(
            max_archives=settings.events_max_archives,
            max_active_replays=settings.events_max_active_replays,
        )
        self.archives = ArchiveService(
            home_archive_store(settings, self.archive_store), self.service, limits=archive_limits
        )
        self.service.archiver = self.archives
        rule_metrics = None if metrics is None else RuleMetrics(metrics, settings.region)
        if rule_metrics is not None:
            self.service.metrics = self.deliveries.metrics = rule_metrics
            self.service.measures = self.deliveries.measures = rule_metrics.measure
            self.deliveries.measures_in = rule_metrics.measure_in  # decision 0360
        # Decision 0273: event buses (the account's and others') as targets, as their roles.
        self.bus_targets: RoleBusTargets | None = None
        if identity is not None:
            roles = EventsRoles(identity, settings.region)
            self.bus_targets = RoleBusTargets(self.service, roles)
            self.deliveries.buses = self.bus_targets
            targets.roles = roles  # another account's queues and topics
        # Decision 0349: each declared Region's EventBridge, its buses targets of the others.
        self.regions = regional_services(settings, self.service, whole, self.deliveries, limits)
        if rule_metrics is not None:  # decision 0360: each Region's account metrics its own
            for region, regional in self.regions.items():
                regional.measures = rule_metrics.measure_in(region)
        if self.bus_targets is not None:
            self.bus_targets.regions = self.regions
        # Decision 0397: each Region's archives and replays its own.
        self.regional_archives = regional_archives(
            self.archives, self.regions, self.archive_store, archive_limits
        )
        self.endpoints = endpoint_service(settings, db, self.regions)  # decision 0355

    def under_customer_keys(
        self,
        secrets: SecretService,
        keys: KeyService,
        customer_keys: CustomerKeyService,
        audit: AuditService | None = None,
        billing: BillingService | None = None,
    ) -> None:
        """Decision 0204: the connections' credentials in Secrets Manager secrets of their
        accounts rather than sealed in the events store, and the archives' events under their
        ``KmsKeyIdentifier`` (used as ``events.amazonaws.com``, metered and audited)."""
        connection_secrets = SecretsManagerConnectionSecrets(
            secrets,
            self._settings.region,
            cache_ttl=self._settings.events_connection_secret_cache,
            customer_keys=customer_keys,
        )
        for connections in self.regional_connections.values():  # decision 0400
            connections.secrets = connection_secrets
        self.archives.keys = KmsEventKeys(
            keys, customer_keys, self._settings.region, audit, billing
        )
        # Decision 0213: the buses' KmsKeyIdentifier, their queued deliveries sealed under it.
        self.service.keys = self.deliveries.keys = self.archives.keys

    def api(
        self,
        identity: IdentityService,
        audit: AuditService,
        rate_limiter: RateLimiter | None,
        billing: BillingService | None,
    ) -> EventsApp:
        if self.bus_targets is not None:
            self.bus_targets.billing = billing  # events sent bus to bus, as AWS bills them
        return EventsApp(
            self.service,
            identity,
            audit,
            self._settings,
            rate_limiter,
            billing=billing,
            archives=self.archives,
            connections=self.connections,
            regions=self.regions,
            endpoints=self.endpoints,
            regional_archives=self.regional_archives,
            regional_connections=self.regional_connections,
        )

    def stream_targets(
        self, apis: Mapping[str, object], billing: BillingService | None = None
    ) -> None:
        """Decision 0238: Kinesis and Firehose streams as targets, their services found in
        ``apis`` when a delivery needs them (``serve`` makes them after EventBridge); decision
        0277: CloudWatch Logs groups, what they ingest metered through ``billing``."""

        def logs() -> LogsService | None:
            app = apis.get(LogsApp.name)
            return app.service if isinstance(app, LogsApp) else None

        region = self._settings.region

        def ingested(tenant_id: str, size: int, meter: str) -> None:
            if billing is not None:
                billing.count(tenant_id, region, meter, size)

        self.deliveries.log_groups = EventLogTargets(LogTargetWriter(logs, ingested), region)
        self.deliveries.functions = EventFunctionTargets(lambda_invocations(apis))  # 0293
        if self._identity is None:
            return  # no judge of roles: stream targets stay refused (``NO_RESOURCE``)

        def kinesis() -> KinesisService | None:
            app = apis.get(KinesisApp.name)
            return app.service if isinstance(app, KinesisApp) else None

        def firehose() -> FirehoseService | None:
            app = apis.get(FirehoseApp.name)
            return app.service if isinstance(app, FirehoseApp) else None

        roles = EventsRoles(self._identity, self._settings.region)
        self.deliveries.streams = RoleStreamTargets(roles, kinesis, firehose, self._settings.region)

    def alarm_events(self) -> AlarmStateEventSender:
        """CloudWatch's alarm state changes into the accounts' default buses."""
        return AlarmStateEventSender(self.service, self._settings.region)

    def bucket_events(self) -> BucketEventBus:
        return BucketEventBus(self.service)

    def instance_events(self, previous: TransitionListener | None) -> TransitionListener:
        return instance_state_events(self.service, self._settings.region, previous)

    def spot_warnings(self) -> SpotWarning:
        return spot_interruption_warnings(self.service, self._settings.region)

    def replays(self, holder: str) -> ReplayRunner:
        """The replays' runner and archives' sweeper of this gateway (decision 0196), woken
        by its own StartReplay calls."""
        settings = self._settings
        runner = ReplayRunner(
            self.archive_store,
            self.service,
            holder=holder,
            policy=ReplayPolicy(
                batch=settings.events_replay_batch,
                lease=settings.events_replay_lease,
                interval=settings.events_replay_interval,
                expiry_interval=settings.events_archive_expiry_interval,
                expiry_batch=settings.events_archive_expiry_batch,
                idle_poll_max=settings.background_idle_poll_max,
            ),
            keys=self.archives.keys,
            doorbell=self._db.doorbells.of(EVENT_REPLAYS),
        )
        runner.regions = replay_regions(settings.region, self.regional_archives, self.regions)
        for archives in self.regional_archives.values():
            archives.on_replay = runner.wake
        return runner

    def background(self, holder: str) -> list[asyncio.Task[None]]:
        """The dispatchers' (one a declared Region, decision 0397), the deliveries' worker's
        and the replays' runner's tasks;
        ``holder``: this gateway's name in the schedules' claims and the replays' leases (the
        autoscaling reconciler's owner name)."""
        schedules = []
        for region, service in self.regions.items():  # decision 0397: each Region's rules
            scheduler = Scheduler(
                service.store,
                SqlMetricRuns(self._db),
                self.deliveries,
                holder=holder,
                interval=self._settings.events_schedule_interval,
            )
            scheduler.seals = service.seals
            schedules.append((region, scheduler))
        return [
            asyncio.create_task(self.resealer.run_forever(), name="events-reseals"),
            *(
                asyncio.create_task(scheduler.run_forever(), name=f"events-schedules-{region}")
                for region, scheduler in schedules
            ),
            asyncio.create_task(self.deliveries.run_forever(), name="events-deliveries"),
            asyncio.create_task(self.replays(holder).run_forever(), name="events-replays"),
        ]


def events_parts(
    settings: Settings,
    db: Database,
    queues: QueueService,
    topics: TopicService,
    pubsub: PubSubService,
    sealer: EventSealer | None = None,
    identity: IdentityService | None = None,
    metrics: MetricsSink | None = None,
) -> EventsParts:
    targets = EventTargets(queues, topics, pubsub)
    return EventsParts(settings, db, targets, sealer, identity, metrics)


def instance_state_events(
    service: EventsService, region: str, previous: TransitionListener | None
) -> TransitionListener:
    """The compute service's transition listener: ``previous`` (metering's) first, then EC2's
    "EC2 Instance State-change Notification" into the owner's default bus, in AWS's shape
    (``source`` ``aws.ec2``, the instance's ARN its resource, ``detail`` its id and state)."""

    async def on_transition(before: Instance, after: Instance, at: datetime) -> None:
        if previous is not None:
            await previous(before, after, at)
        tenant = after.tenant_id
        event = event_envelope(
            event_id=str(uuid.uuid4()),
            detail_type="EC2 Instance State-change Notification",
            source="aws.ec2",
            account=tenant,
            moment=at,
            region=region,
            resources=[f"arn:aws:ec2:{region}:{tenant}:instance/{after.instance_id}"],
            detail={"instance-id": after.instance_id, "state": str(after.state)},
        )
        await service.route(tenant, DEFAULT_BUS, [event])

    return on_transition


def spot_interruption_warnings(service: EventsService, region: str) -> SpotWarning:
    """EC2's "EC2 Spot Instance Interruption Warning" into the instance owner's default bus
    when its interruption is noticed (decision 0202), in AWS's shape: ``source`` ``aws.ec2``,
    the instance's ARN its resource, ``detail`` its id and the action to come."""

    async def warn(instance: Instance, at: datetime) -> None:
        interruption = instance.spot_interruption
        tenant = instance.tenant_id
        event = event_envelope(
            event_id=str(uuid.uuid4()),
            detail_type="EC2 Spot Instance Interruption Warning",
            source="aws.ec2",
            account=tenant,
            moment=datetime.now(UTC),
            region=region,
            resources=[f"arn:aws:ec2:{region}:{tenant}:instance/{instance.instance_id}"],
            detail={
                "instance-id": instance.instance_id,
                "instance-action": interruption.action if interruption else "terminate",
            },
        )
        await service.route(tenant, DEFAULT_BUS, [event])

    return warn
