"""Application Load Balancers' HTTP listeners and their rules (decision 0216), the part of the
load balancing service behind CreateListener (HTTP), ModifyListener of an HTTP listener,
Create/Describe/Modify/DeleteRule and SetRulePriorities.

A rule is a ``rule`` row of the store: named ``LISTENER/PRIORITY`` (so two rules of a listener
cannot share a priority: ``PriorityInUse``, by the store's unique name even between two
gateways) under its load balancer (so the rules limit counts a load balancer's, as AWS's
quota). The default rule is no row: it is the listener's default action, answered with a
stable id derived from the listener's. A forward action names target groups by ARN on the
wire and by id in the store; each group is then used by the load balancer (one load
balancer a group, ``TargetGroupAssociationLimit``), and let go when no listener or rule of
it forwards there any more.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Final

from andromede.loadbalancing.application import (
    ALB_LISTENER_PROTOCOLS,
    GroupPolicy,
    HttpSettings,
)
from andromede.loadbalancing.core import check_tags
from andromede.loadbalancing.documents import (
    forwarded_groups,
    group_from,
    listener_document,
    listener_from,
    load_balancer_from,
)
from andromede.loadbalancing.errors import (
    ConcurrentChange,
    Duplicate,
    IncompatibleProtocols,
    InvalidConfiguration,
    LbValidationError,
    NotFound,
    NotPermitted,
    TooMany,
)
from andromede.loadbalancing.group_routing import policy_of
from andromede.loadbalancing.health_counts import HealthCount, health_counts
from andromede.loadbalancing.http_rules import (
    MAX_PRIORITY,
    Condition,
    Forward,
    Rule,
    RuleAction,
    action_document,
    action_from,
    check_action,
    check_conditions,
    condition_document,
    condition_from,
)
from andromede.loadbalancing.listener_tls import NO_TLS, ListenerTlsMixin, TlsRequest
from andromede.loadbalancing.model import (
    ForwardingView,
    HealthState,
    Listener,
    LoadBalancer,
    Tags,
    TargetGroup,
    listener_arn,
    new_resource_id,
    parse_arn,
    rule_arn,
)
from andromede.loadbalancing.store import Stored
from andromede.loadbalancing.tls import DEFAULT_SSL_POLICY, TlsSettings
from andromede.loadbalancing.trust_stores import MutualAuthentication

__all__ = ["ListenerRulesMixin", "PlacedRule"]

_RULE_NOT_FOUND: Final = ("RuleNotFound", "One or more rules not found")


@dataclass(frozen=True, slots=True)
class PlacedRule:
    """A rule with the listener and load balancer it belongs to (for its ARN)."""

    lb: LoadBalancer
    listener: Listener
    rule: Rule


def default_rule_id(listener_id: str) -> str:
    """The default rule's id: stable, 16 hex digits as every ELBv2 id."""
    return hashlib.sha256(f"default-rule:{listener_id}".encode()).hexdigest()[:16]


def _rule_document(listener_id: str, rule: Rule, tags: Tags) -> dict[str, Any]:
    action = rule.action
    return {
        "listener_id": listener_id,
        "priority": rule.priority,
        "conditions": [condition_document(c) for c in rule.conditions],
        "action": action_document(action),
        "groups": [g for g, _ in action.groups] if isinstance(action, Forward) else [],
        "tags": [list(t) for t in tags],
    }


def _rule_from(rule_id: str, doc: dict[str, Any]) -> Rule:
    return Rule(
        rule_id=rule_id,
        priority=int(doc["priority"]),
        conditions=tuple(condition_from(c) for c in doc.get("conditions") or ()),
        action=action_from(doc["action"]),
    )


def _check_priority(priority: int) -> None:
    if not 1 <= priority <= MAX_PRIORITY:
        raise LbValidationError(f"A rule's priority must be between 1 and {MAX_PRIORITY}")


class ListenerRulesMixin(ListenerTlsMixin):
    async def _lb(self, tenant_id: str, lb_id: str) -> LoadBalancer:
        stored = await self.held(tenant_id, "loadbalancer", lb_id)
        return load_balancer_from(tenant_id, lb_id, stored.name, stored.document)

    async def _listener(self, tenant_id: str, arn: str) -> Listener:
        return (await self._listener_row(tenant_id, arn))[1]

    def rule_arn(self, placed: PlacedRule) -> str:
        lb, listener = placed.lb, placed.listener
        return rule_arn(
            self.region, lb.tenant_id, lb.name, lb.lb_id, listener.listener_id, placed.rule.rule_id
        )

    # -- actions ----------------------------------------------------------------------------------

    async def resolved_action(
        self, tenant_id: str, lb: LoadBalancer, action: RuleAction
    ) -> RuleAction:
        """``action`` checked, a forward's groups named by ARN turned into ids: each the
        account's, in the load balancer's VPC, HTTP, used by no other load balancer."""
        check_action(action)
        if not isinstance(action, Forward):
            return action
        resolved = []
        for arn, weight in action.groups:
            group = await self.target_group(
                tenant_id, await self.id_of(tenant_id, "targetgroup", arn)
            )
            if group.vpc_id != lb.vpc_id:
                raise InvalidConfiguration(
                    f"The target group '{arn}' is not in the load balancer's VPC '{lb.vpc_id}'"
                )
            if group.protocol not in ("HTTP", "HTTPS"):
                raise IncompatibleProtocols(
                    f"The target group '{arn}' has protocol '{group.protocol}', which an "
                    "Application Load Balancer's listener cannot forward to"
                )
            if group.lb_id not in ("", lb.lb_id):
                raise TooMany(
                    "TargetGroupAssociationLimit",
                    f"The target group '{arn}' is already associated with another load balancer",
                )
            resolved.append((group.tg_id, weight))
        return Forward(tuple(resolved), action.stickiness)

    async def _use(self, tenant_id: str, lb_id: str, action: RuleAction) -> None:
        if isinstance(action, Forward):
            for tg_id, _ in action.groups:
                await self.use_group(tenant_id, tg_id, lb_id)

    async def release_unused(self, tenant_id: str, lb_id: str, tg_ids: Iterable[str]) -> None:
        """Let go of each of ``tg_ids`` no listener or rule of ``lb_id`` forwards to now."""
        used: set[str] = set()
        for row in await self.store.list(tenant_id, "listener"):
            if row.document["lb_id"] == lb_id:
                used |= set(
                    forwarded_groups(listener_from(tenant_id, row.resource_id, row.document))
                )
        for row in await self.store.list(tenant_id, "rule"):
            if row.parent == lb_id:
                used |= set(row.document.get("groups", ()))
        for tg_id in set(tg_ids) - used:
            try:
                await self.use_group(tenant_id, tg_id, "")
            except NotFound:
                continue

    # -- HTTP listeners ---------------------------------------------------------------------------

    async def create_http_listener(
        self,
        tenant_id: str,
        lb_arn: str,
        protocol: str,
        port: int,
        action: RuleAction,
        tags: Tags = (),
        tls: TlsRequest = NO_TLS,
        mutual: MutualAuthentication | None = None,
    ) -> tuple[LoadBalancer, Listener]:
        check_tags(tags, self.limits.max_tags)
        lb = await self._lb(tenant_id, await self.id_of(tenant_id, "loadbalancer", lb_arn))
        self._check_http_protocol(lb, protocol)
        certificates, ssl_policy, _ = await self.checked_tls(tenant_id, protocol, tls)
        checked_mutual = await self.checked_mutual(
            tenant_id, protocol, mutual, MutualAuthentication()
        )
        resolved = await self.resolved_action(tenant_id, lb, action)
        listener = Listener(
            tenant_id=tenant_id,
            listener_id=new_resource_id(),
            lb_id=lb.lb_id,
            protocol=protocol,
            port=port,
            tg_id=resolved.groups[0][0] if isinstance(resolved, Forward) else "",
            created_at=self.clock(),
            tags=tags,
            default_action=resolved,
            certificates=certificates,
            ssl_policy=ssl_policy,
            mutual=checked_mutual,
        )
        await self.insert_listener(
            tenant_id,
            listener,
            f"A listener already exists on port {port} of load balancer '{lb_arn}'",
        )
        await self._use(tenant_id, lb.lb_id, resolved)
        return lb, listener

    async def insert_listener(
        self,
        tenant_id: str,
        listener: Listener,
        duplicate_message: str | Callable[[], Awaitable[str]],
    ) -> None:
        """Store a new listener, one a port of its load balancer (``DuplicateListener`` in the
        words given, or asked once it is a duplicate: each listener protocol says its own) and
        ``max_listeners`` a load balancer (``TooManyListeners``)."""
        outcome = await self.store.insert(
            tenant_id,
            "listener",
            listener.listener_id,
            f"{listener.lb_id}/{listener.port}",
            listener.lb_id,
            listener_document(listener),
            limit=self.limits.max_listeners,
        )
        if outcome == "duplicate":
            raise Duplicate(
                "DuplicateListener",
                duplicate_message
                if isinstance(duplicate_message, str)
                else await duplicate_message(),
            )
        if outcome == "limit":
            raise TooMany(
                "TooManyListeners",
                f"A load balancer can have at most {self.limits.max_listeners} listeners",
            )

    @staticmethod
    def _check_http_protocol(lb: LoadBalancer, protocol: str) -> None:
        if lb.lb_type != "application":
            raise InvalidConfiguration(
                f"Listener protocol '{protocol[:16]}' is not valid for a Network Load Balancer"
            )
        if protocol not in ALB_LISTENER_PROTOCOLS:
            raise LbValidationError(
                f"Listener protocol '{protocol[:16]}' must be one of 'HTTPS, HTTP' for an "
                "Application Load Balancer"
            )

    async def modify_http_listener(
        self,
        tenant_id: str,
        arn: str,
        *,
        port: int | None,
        protocol: str | None,
        action: RuleAction | None,
        tls: TlsRequest = NO_TLS,
        mutual: MutualAuthentication | None = None,
    ) -> Listener:
        """ModifyListener of an HTTP or HTTPS listener: its port (its row renamed), its
        protocol (HTTP↔HTTPS, the certificate given for HTTPS), its default action, its
        certificate and security policy."""
        held = await self._listener(tenant_id, arn)
        lb = await self._lb(tenant_id, held.lb_id)
        if protocol is not None:
            self._check_http_protocol(lb, protocol)
        protocol = protocol or held.protocol
        kept = held if held.protocol == protocol else None
        certificates, ssl_policy, _ = await self.checked_tls(tenant_id, protocol, tls, kept)
        checked_mutual = await self.checked_mutual(tenant_id, protocol, mutual, held.mutual)
        resolved = held.default_action
        if action is not None:
            resolved = await self.resolved_action(tenant_id, lb, action)
        if resolved is None:
            raise InvalidConfiguration(
                "Only an Application Load Balancer's listener is modified so"
            )
        changed = replace(
            held,
            protocol=protocol,
            certificates=certificates,
            ssl_policy=ssl_policy,
            mutual=checked_mutual,
            port=port or held.port,
            tg_id=resolved.groups[0][0] if isinstance(resolved, Forward) else "",
            default_action=resolved,
        )
        stored = await self.held(tenant_id, "listener", held.listener_id)
        outcome = await self.store.rename(
            stored, f"{lb.lb_id}/{changed.port}", listener_document(changed)
        )
        if outcome == "duplicate":
            raise Duplicate(
                "DuplicateListener",
                f"A listener already exists on port {changed.port} of this load balancer",
            )
        if outcome != "ok":
            raise ConcurrentChange(f"listener {held.listener_id} changed concurrently; retry")
        await self._use(tenant_id, lb.lb_id, resolved)
        await self.release_unused(tenant_id, lb.lb_id, forwarded_groups(held))
        return changed

    # -- rules ------------------------------------------------------------------------------------

    async def create_rule(
        self,
        tenant_id: str,
        listener_arn: str,
        priority: int,
        conditions: Sequence[Condition],
        action: RuleAction,
        tags: Tags = (),
    ) -> PlacedRule:
        _check_priority(priority)
        check_conditions(conditions)
        check_tags(tags, self.limits.max_tags)
        listener = await self._listener(tenant_id, listener_arn)
        lb = await self._lb(tenant_id, listener.lb_id)
        if listener.default_action is None:
            raise InvalidConfiguration("Rules can only be created on an Application Load Balancer")
        resolved = await self.resolved_action(tenant_id, lb, action)
        rule = Rule(new_resource_id(), priority, tuple(conditions), resolved)
        outcome = await self.store.insert(
            tenant_id,
            "rule",
            rule.rule_id,
            f"{listener.listener_id}/{priority}",
            lb.lb_id,
            _rule_document(listener.listener_id, rule, tags),
            limit=self.limits.max_rules,
        )
        if outcome == "duplicate":
            raise Duplicate("PriorityInUse", f"Priority '{priority}' is currently in use")
        if outcome == "limit":
            raise TooMany(
                "TooManyRules",
                f"A load balancer can have at most {self.limits.max_rules} rules",
            )
        await self._use(tenant_id, lb.lb_id, resolved)
        return PlacedRule(lb, listener, rule)

    def _default(self, lb: LoadBalancer, listener: Listener) -> PlacedRule:
        if listener.default_action is None:
            raise NotFound(*_RULE_NOT_FOUND)
        rule = Rule(default_rule_id(listener.listener_id), None, (), listener.default_action)
        return PlacedRule(lb, listener, rule)

    async def listener_rules(self, tenant_id: str, listener: Listener) -> list[Rule]:
        """A listener's rules by priority, its default rule last (what the proxy applies)."""
        rows = [
            r
            for r in await self.store.list(tenant_id, "rule")
            if r.document["listener_id"] == listener.listener_id
        ]
        found = sorted((_rule_from(r.resource_id, r.document) for r in rows), key=_priority)
        if listener.default_action is not None:
            found.append(
                Rule(default_rule_id(listener.listener_id), None, (), listener.default_action)
            )
        return found

    async def rules(
        self, tenant_id: str, listener_arn: str | None, rule_arns: Sequence[str] = ()
    ) -> list[PlacedRule]:
        """DescribeRules: a listener's rules (its default last), or those named."""
        if listener_arn:
            listener = await self._listener(tenant_id, listener_arn)
            if listener.default_action is None:
                raise InvalidConfiguration("Only Application Load Balancer listeners have rules")
            lb = await self._lb(tenant_id, listener.lb_id)
            return [
                PlacedRule(lb, listener, r) for r in await self.listener_rules(tenant_id, listener)
            ]
        return [await self.placed_rule(tenant_id, arn) for arn in dict.fromkeys(rule_arns)]

    async def placed_rule(self, tenant_id: str, arn: str) -> PlacedRule:
        rule_id = await self.id_of(tenant_id, "rule", arn)
        stored = await self.store.get(tenant_id, "rule", rule_id)
        if stored is None:
            # The default rule: its ARN names its listener.
            listener_id = arn.split("/")[-2]
            listener_row = await self.store.get(tenant_id, "listener", listener_id)
            if listener_row is None or default_rule_id(listener_id) != rule_id:
                raise NotFound(*_RULE_NOT_FOUND)
            listener = listener_from(tenant_id, listener_id, listener_row.document)
            if listener.default_action is None:
                raise NotFound(*_RULE_NOT_FOUND)
            return self._default(await self._lb(tenant_id, listener.lb_id), listener)
        listener = listener_from(
            tenant_id,
            stored.document["listener_id"],
            (await self.held(tenant_id, "listener", stored.document["listener_id"])).document,
        )
        lb = await self._lb(tenant_id, listener.lb_id)
        return PlacedRule(lb, listener, _rule_from(rule_id, stored.document))

    async def modify_rule(
        self,
        tenant_id: str,
        arn: str,
        conditions: Sequence[Condition] | None,
        action: RuleAction | None,
    ) -> PlacedRule:
        placed = await self.placed_rule(tenant_id, arn)
        if placed.rule.is_default:
            if conditions:
                raise NotPermitted("The default rule cannot have conditions")
            if action is None:
                return placed
            listener = await self.modify_http_listener(
                tenant_id,
                listener_arn(
                    self.region,
                    placed.lb.tenant_id,
                    placed.lb.name,
                    placed.lb.lb_id,
                    placed.listener.listener_id,
                    placed.lb.arn_kind,
                ),
                port=None,
                protocol=None,
                action=action,
            )
            return self._default(placed.lb, listener)
        if conditions is not None:
            check_conditions(conditions)
        resolved = (
            await self.resolved_action(tenant_id, placed.lb, action)
            if action is not None
            else placed.rule.action
        )
        rule = replace(
            placed.rule,
            conditions=tuple(conditions) if conditions is not None else placed.rule.conditions,
            action=resolved,
        )

        def change(stored: Stored) -> dict[str, Any]:
            tags = tuple((str(k), str(v)) for k, v in stored.document.get("tags", ()))
            return _rule_document(placed.listener.listener_id, rule, tags)

        await self.mutate(tenant_id, "rule", rule.rule_id, change)
        await self._use(tenant_id, placed.lb.lb_id, resolved)
        await self.release_unused(tenant_id, placed.lb.lb_id, _groups(placed.rule))
        return replace(placed, rule=rule)

    async def delete_rule(self, tenant_id: str, arn: str) -> None:
        placed = await self.placed_rule(tenant_id, arn)
        if placed.rule.is_default:
            raise NotPermitted("You cannot delete the default rule of a listener")
        stored = await self.held(tenant_id, "rule", placed.rule.rule_id)
        if not await self.store.delete(stored):
            raise ConcurrentChange(f"rule {placed.rule.rule_id} changed concurrently; retry")
        await self.release_unused(tenant_id, placed.lb.lb_id, _groups(placed.rule))

    async def set_rule_priorities(
        self, tenant_id: str, priorities: Sequence[tuple[str, int]]
    ) -> list[PlacedRule]:
        """SetRulePriorities: every rule named moves to its priority, which no other rule of
        its listener may hold (``PriorityInUse``); the moves go through a name of no
        priority so two rules may swap."""
        if not priorities:
            raise LbValidationError("At least one rule priority must be specified")
        placed = []
        for arn, priority in priorities:
            _check_priority(priority)
            rule = await self.placed_rule(tenant_id, arn)
            if rule.rule.is_default:
                raise NotPermitted("The priority of the default rule cannot be changed")
            placed.append((rule, priority))
        wanted = [(p.listener.listener_id, priority) for p, priority in placed]
        if len(set(wanted)) != len(wanted):
            raise Duplicate("PriorityInUse", "Two rules cannot be given the same priority")
        moved = {p.rule.rule_id for p, _ in placed}
        for row in await self.store.list(tenant_id, "rule"):
            key = (row.document["listener_id"], int(row.document["priority"]))
            if key in wanted and row.resource_id not in moved:
                raise Duplicate("PriorityInUse", f"Priority '{key[1]}' is currently in use")
        for step in ("~", ""):
            for rule, priority in placed:
                stored = await self.held(tenant_id, "rule", rule.rule.rule_id)
                name = f"{rule.listener.listener_id}/{step}{priority}"
                if step == "~":
                    name = f"{rule.listener.listener_id}/~{rule.rule.rule_id}"
                document = {**stored.document, "priority": priority}
                outcome = await self.store.rename(stored, name, document)
                if outcome == "duplicate":
                    raise Duplicate("PriorityInUse", f"Priority '{priority}' is currently in use")
                if outcome != "ok":
                    raise ConcurrentChange("a rule changed concurrently; retry")
        return [replace(p, rule=replace(p.rule, priority=priority)) for p, priority in placed]

    async def drop_rules(self, tenant_id: str, listener: Listener) -> list[str]:
        """Delete a listener's rules (it goes); the groups they forwarded to."""
        groups: list[str] = []
        for row in await self.store.list(tenant_id, "rule"):
            if row.document["listener_id"] == listener.listener_id:
                groups += row.document.get("groups", ())
                if not await self.store.delete(row):
                    raise ConcurrentChange(f"rule {row.resource_id} changed concurrently; retry")
        return groups

    # -- the data plane ---------------------------------------------------------------------------

    async def forwarding_views(self) -> list[ForwardingView]:
        """Every listener's view for the routers: the NLBs' (decision 0191), then each HTTP
        listener's with its rules and groups for the hosts' HTTP proxies."""
        views = await super().forwarding_views()
        lbs = {(s.tenant_id, s.resource_id): s for s in await self.store.list(None, "loadbalancer")}
        groups = {
            (s.tenant_id, s.resource_id): group_from(s.tenant_id, s.resource_id, s.name, s.document)
            for s in await self.store.list(None, "targetgroup")
        }
        rules: dict[tuple[str, str], list[Rule]] = {}
        for row in await self.store.list(None, "rule"):
            key = (row.tenant_id, row.document["listener_id"])
            rules.setdefault(key, []).append(_rule_from(row.resource_id, row.document))
        for row in await self.store.list(None, "listener"):
            listener = listener_from(row.tenant_id, row.resource_id, row.document)
            lb_row = lbs.get((row.tenant_id, listener.lb_id))
            if listener.default_action is None or lb_row is None:
                continue
            lb = load_balancer_from(row.tenant_id, lb_row.resource_id, lb_row.name, lb_row.document)
            ordered = sorted(rules.get((row.tenant_id, listener.listener_id), []), key=_priority)
            ordered.append(
                Rule(default_rule_id(listener.listener_id), None, (), listener.default_action)
            )
            used = dict.fromkeys(g for rule in ordered for g in _groups(rule))
            targets = {
                tg_id: self._serving(groups[(row.tenant_id, tg_id)])
                for tg_id in used
                if (row.tenant_id, tg_id) in groups
            }
            view = ForwardingView(
                listener_id=listener.listener_id,
                vpc_id=lb.vpc_id,
                addresses=tuple(n.address for n in lb.nodes),
                port=listener.port,
                targets=tuple(sorted({t for found in targets.values() for t in found})),
                zones=tuple((n.address, n.availability_zone) for n in lb.nodes),
                tenant_id=lb.tenant_id,
                lb_dimension=f"app/{lb.name}/{lb.lb_id}",
                http=HttpSettings(
                    rules=tuple(ordered),
                    groups=tuple(sorted(targets.items())),
                    idle_timeout=int(lb.attribute("idle_timeout.timeout_seconds")),
                    xff_mode=lb.attribute("routing.http.xff_header_processing.mode"),
                    xff_client_port=lb.attribute("routing.http.xff_client_port.enabled") == "true",
                    drop_invalid_headers=lb.attribute(
                        "routing.http.drop_invalid_header_fields.enabled"
                    )
                    == "true",
                    max_header_bytes=self.limits.http_max_header_bytes,
                    client_keep_alive=int(lb.attribute("client_keep_alive.seconds")),
                    protocol=listener.protocol,
                    policies=_policies(
                        ordered, [groups[(row.tenant_id, tg_id)] for tg_id in sorted(targets)]
                    ),
                    # Decision 0264: the proxies write access log lines while they are on.
                    access_log=f"app/{lb.name}/{lb.lb_id}"
                    if lb.attribute("access_logs.s3.enabled") == "true"
                    else "",
                    group_arns=tuple(
                        (tg_id, self.tg_arn(groups[(row.tenant_id, tg_id)]))
                        for tg_id in sorted(targets)
                        if lb.attribute("access_logs.s3.enabled") == "true"
                    ),
                    access_log_max_lines=self.limits.access_log_max_lines,
                    # Decision 0287: desync mitigation, and the connection logs while on.
                    desync_mode=lb.attribute("routing.http.desync_mitigation_mode"),
                    connection_log=f"app/{lb.name}/{lb.lb_id}"
                    if lb.attribute("connection_logs.s3.enabled") == "true"
                    else "",
                ),
                tls=TlsSettings(
                    certificates=listener.certificates,
                    ssl_policy=listener.ssl_policy or DEFAULT_SSL_POLICY,
                    # Decision 0256: its mutual TLS, the trust store's CAs and revocations.
                    mutual=await self.mutual_tls(row.tenant_id, listener.mutual),
                )
                if listener.protocol == "HTTPS"
                else None,
            )
            if lb.security_groups:  # its groups' ingress, judged by the router's guard
                allowed = await self.network.group_ingress(lb.tenant_id, lb.security_groups)
                view = replace(view, allowed=tuple(allowed))
            views.append(view)
        return views

    async def health_counts(self) -> list[HealthCount]:
        """The NLBs' host counts (decision 0191), then each ALB's groups' — every group one
        of its listeners or rules forwards to (``AWS/ApplicationELB``)."""
        counts = await super().health_counts()
        lbs = {(s.tenant_id, s.resource_id): s for s in await self.store.list(None, "loadbalancer")}
        seen: set[tuple[str, str, str]] = set()
        for kind in ("listener", "rule"):
            for row in await self.store.list(None, kind):
                # An HTTP listener's or a rule's forward groups (an NLB listener's: above).
                http = kind == "rule" or row.document.get("default_action") is not None
                for tg_id in row.document.get("groups", ()) if http else ():
                    lb_id = row.parent if kind == "rule" else row.document["lb_id"]
                    key = (row.tenant_id, lb_id, tg_id)
                    lb_row = lbs.get((row.tenant_id, lb_id))
                    if key in seen or lb_row is None:
                        continue
                    seen.add(key)
                    stored = await self.store.get(row.tenant_id, "targetgroup", tg_id)
                    if stored is None:
                        continue
                    group = group_from(row.tenant_id, tg_id, stored.name, stored.document)
                    lb = load_balancer_from(row.tenant_id, lb_id, lb_row.name, lb_row.document)
                    live = replace(group, targets=tuple(self._live(group.targets)))
                    counts += health_counts(lb, live)
        return counts

    def _serving(self, group: TargetGroup) -> tuple[tuple[str, int], ...]:
        """The group's targets a request may go to: the healthy ones, every registered one
        when none is (AWS's fail-open), never a draining one."""
        live = [t for t in self._live(group.targets) if t.state is not HealthState.DRAINING]
        healthy = [t for t in live if t.state is HealthState.HEALTHY]
        chosen = healthy or [t for t in live if t.state is not HealthState.UNUSED]
        return tuple(sorted((t.address, t.port) for t in chosen))

    def is_rule_arn(self, arn: str) -> bool:
        parsed = parse_arn(arn)
        return parsed is not None and parsed.kind == "rule"


def _policies(
    rules: Sequence[Rule], groups: Sequence[TargetGroup]
) -> tuple[tuple[str, GroupPolicy], ...]:
    """The forwarded groups' policies a proxy needs (decision 0231): those not AWS's default
    (HTTP, no stickiness, round robin), each with its secret only where a cookie is sealed
    under it — its own stickiness, or a forward's group stickiness —, so that a listener
    using none of them is handed as before (an agent older than 0231 reads it on)."""
    sealing = {
        tg_id
        for rule in rules
        if isinstance(rule.action, Forward) and rule.action.stickiness
        for tg_id, _ in rule.action.groups
    }
    found = []
    for group in groups:
        policy = policy_of(group)
        if not policy.stickiness and group.tg_id not in sealing:
            policy = replace(policy, key="")
        if policy != GroupPolicy():
            found.append((group.tg_id, policy))
    return tuple(found)


def _priority(rule: Rule) -> int:
    return MAX_PRIORITY + 1 if rule.priority is None else rule.priority


def _groups(rule: Rule) -> list[str]:
    return [g for g, _ in rule.action.groups] if isinstance(rule.action, Forward) else []
