"""Security group rules as resources of their own (decision 0146): each rule has an ``sgr-``
id, by which it is described, changed in place (its definition or its description), revoked
and tagged (tags.py). A rule lives in its group's record; finding one by id reads the
caller's groups, so another tenant's rule ids are simply not found.

Changing a rule's definition pushes the group's firewall to the hosts as authorising and
revoking do; changing a description or tags does not (the firewall knows neither).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from andromede.compute.access import AccessMixin, describe_rule
from andromede.compute.errors import Duplicate, IncorrectState, NotFound
from andromede.compute.model import Rule, SecurityGroup, Tags, check_id
from andromede.compute.store import ComputeStore

__all__ = ["RuleRef", "SecurityGroupRulesMixin", "rule_holder"]

_RETRIES = 10


@dataclass(frozen=True, slots=True)
class RuleRef:
    """A rule as DescribeSecurityGroupRules shows it: with its group and direction."""

    group: SecurityGroup
    rule: Rule
    egress: bool

    @property
    def tags(self) -> Tags:  # for the tag filters
        return self.rule.tags


async def rule_holder(store: ComputeStore, tenant_id: str, rule_id: str) -> SecurityGroup:
    """The tenant's group holding the rule ``rule_id`` (NotFound: none of its groups does)."""
    check_id(rule_id, "sgr")
    for group in await store.list(SecurityGroup, tenant_id):
        if group.tenant_id == tenant_id and group.rule(rule_id) is not None:
            return group
    raise NotFound("sgr", rule_id)


def _replaced(group: SecurityGroup, changed: dict[str, Rule]) -> dict[str, tuple[Rule, ...]]:
    """The group's rule lists with the rules of ``changed``'s ids replaced, in place."""
    return {
        "ingress": tuple(changed.get(r.rule_id, r) for r in group.ingress),
        "egress": tuple(changed.get(r.rule_id, r) for r in group.egress),
    }


class SecurityGroupRulesMixin(AccessMixin):
    async def security_group_rules(self, tenant_id: str, rule_ids: Sequence[str]) -> list[RuleRef]:
        """The tenant's rules (those of ``rule_ids``, each of which must exist, when given)."""
        for rule_id in rule_ids:
            check_id(rule_id, "sgr")
        groups = await self.describe_security_groups(tenant_id, [], [])
        found = [
            RuleRef(group, rule, egress)
            for group in groups
            for egress, rules in ((False, group.ingress), (True, group.egress))
            for rule in rules
        ]
        have = {ref.rule.rule_id for ref in found}
        for rule_id in rule_ids:
            if rule_id not in have:
                raise NotFound("sgr", rule_id)
        if rule_ids:
            return [ref for ref in found if ref.rule.rule_id in rule_ids]
        return found

    async def _change_rules(
        self,
        tenant_id: str,
        group_id: str,
        change: Callable[[SecurityGroup], dict[str, tuple[Rule, ...]]],
        *,
        push: bool,
        named: Sequence[Rule] = (),
    ) -> SecurityGroup:
        for _ in range(_RETRIES):
            group = await self._owned(SecurityGroup, tenant_id, group_id, "sg")
            fields = change(group)
            try:
                changed = await self.update_rules(group, named, **fields)
            except IncorrectState:
                continue
            if push:
                await self._push_firewalls(tenant_id, (group_id,))
            return changed
        raise IncorrectState(f"{group_id} changed concurrently; retry")

    async def modify_security_group_rules(
        self, tenant_id: str, group_id: str, changes: Sequence[tuple[str, Rule]]
    ) -> SecurityGroup:
        """ModifySecurityGroupRules: each rule of ``changes``' ids (the group's) takes the
        definition given, keeping its id, direction and tags; the result must hold no two
        rules of one permission in one direction (InvalidPermission.Duplicate)."""
        target = await self._owned(SecurityGroup, tenant_id, group_id, "sg")
        await self._check_peers(target, [rule for _, rule in changes])
        sizes = await self.prefix_list_sizes(tenant_id)

        def change(group: SecurityGroup) -> dict[str, tuple[Rule, ...]]:
            changed: dict[str, Rule] = {}
            for rule_id, rule in changes:
                check_id(rule_id, "sgr")
                found = group.rule(rule_id)
                if found is None:
                    raise NotFound("sgr", rule_id)
                changed[rule_id] = replace(rule, rule_id=rule_id, tags=found[0].tags)
            fields = _replaced(group, changed)
            for rules in fields.values():
                for n, rule in enumerate(rules):
                    if any(rule.same_permission(other) for other in rules[:n]):
                        raise Duplicate("permission", describe_rule(rule, group_id))
                self.check_rules_quota(rules, sizes)
            return fields

        return await self._change_rules(
            tenant_id, group_id, change, push=True, named=[rule for _, rule in changes]
        )

    async def revoke_rules(
        self, tenant_id: str, group_id: str | None, rule_ids: Sequence[str], *, ingress: bool
    ) -> tuple[SecurityGroup, list[Rule]]:
        """Revoke*'s SecurityGroupRuleId.N: the rules of those ids, each the group's (found
        by the first rule without ``group_id``) and of that direction, or NotFound."""
        if group_id is None:
            group_id = (await rule_holder(self.store, tenant_id, rule_ids[0])).group_id
        revoked: list[Rule] = []

        def change(group: SecurityGroup) -> dict[str, tuple[Rule, ...]]:
            revoked.clear()
            for rule_id in rule_ids:
                check_id(rule_id, "sgr")
                found = group.rule(rule_id)
                if found is None or found[1] == ingress:
                    raise NotFound("sgr", rule_id)
                revoked.append(found[0])
            current = group.ingress if ingress else group.egress
            kept = tuple(r for r in current if r.rule_id not in rule_ids)
            return {"ingress" if ingress else "egress": kept}

        group = await self._change_rules(tenant_id, group_id, change, push=True)
        return group, revoked

    async def describe_rules(
        self,
        tenant_id: str,
        group_id: str,
        *,
        ingress: bool,
        by_id: Sequence[tuple[str, str]] = (),
        by_permission: Sequence[Rule] = (),
    ) -> SecurityGroup:
        """UpdateSecurityGroupRuleDescriptions*: new descriptions for the group's rules of
        that direction, named by id (``by_id``: id, description) or by permission (the
        description carried by each of ``by_permission``)."""

        def change(group: SecurityGroup) -> dict[str, tuple[Rule, ...]]:
            current = group.ingress if ingress else group.egress
            changed: dict[str, Rule] = {}
            for rule_id, text in by_id:
                check_id(rule_id, "sgr")
                found = next((r for r in current if r.rule_id == rule_id), None)
                if found is None:
                    raise NotFound("sgr", rule_id)
                changed[rule_id] = replace(found, description=text)
            for wanted in by_permission:
                found = next((r for r in current if r.same_permission(wanted)), None)
                if found is None:
                    raise NotFound("permission", describe_rule(wanted, group_id))
                changed[found.rule_id] = replace(found, description=wanted.description)
            return _replaced(group, changed)

        return await self._change_rules(tenant_id, group_id, change, push=False)
