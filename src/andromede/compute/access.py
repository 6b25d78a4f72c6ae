"""Key pairs (created or imported; the private key returned once) and security groups with
their ingress and egress rules (a rule's peer: a CIDR, a group, or a managed prefix list of
the tenant's, decision 0149; the group's rules quota counting a list as its MaxEntries)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from andromede.compute import keypairs
from andromede.compute.errors import (
    CannotDelete,
    Duplicate,
    GroupInAnotherNetwork,
    IncorrectState,
    InvalidParameterValue,
    NotFound,
    ReservedName,
    ResourceInUse,
    RulesLimitExceeded,
)
from andromede.compute.model import (
    Instance,
    InstanceState,
    KeyPair,
    Rule,
    SecurityGroup,
    Tags,
    check_id,
    check_tags,
    new_id,
)
from andromede.compute.network import DEFAULT_GROUP_NAME, NetworkInterface, Vpc
from andromede.compute.prefix_list import ManagedPrefixList, rules_weight
from andromede.compute.security_group_model import ALLOW_ALL_IPV6_EGRESS
from andromede.compute.service_core import NAME_MAX
from andromede.compute.vpc_endpoint import managed_prefix_list_id
from andromede.compute.vpcs import VpcsMixin

__all__ = ["AccessMixin", "describe_rule"]


class AccessMixin(VpcsMixin):
    # -- key pairs ---------------------------------------------------------------------------

    async def create_key_pair(
        self, tenant_id: str, name: str, key_type: str = "rsa", tags: Tags = ()
    ) -> tuple[KeyPair, str]:
        """The new key pair and its private key (returned this once, never stored)."""
        generated = keypairs.generate(key_type)
        key_pair = await self._add_key_pair(
            tenant_id, name, generated.key_type, generated.fingerprint, generated.public_key, tags
        )
        return key_pair, generated.private_key

    async def import_key_pair(
        self, tenant_id: str, name: str, material: bytes, tags: Tags = ()
    ) -> KeyPair:
        imported = keypairs.import_public_key(material)
        return await self._add_key_pair(
            tenant_id, name, imported.key_type, imported.fingerprint, imported.public_key, tags
        )

    async def _add_key_pair(
        self,
        tenant_id: str,
        name: str,
        key_type: str,
        fingerprint: str,
        public_key: str,
        tags: Tags,
    ) -> KeyPair:
        if not 1 <= len(name) <= NAME_MAX:
            raise InvalidParameterValue("Key pair names are 1 to 255 characters")
        check_tags(tags)
        async with self._placement:  # names are unique per tenant
            if any(k.name == name for k in await self.store.list(KeyPair, tenant_id)):
                raise Duplicate("keyname", name)
            key_pair = KeyPair(
                new_id("key"),
                tenant_id,
                name,
                key_type,
                fingerprint,
                public_key,
                self.clock(),
                tags,
            )
            await self.store.insert(key_pair)
        return key_pair

    async def describe_key_pairs(
        self, tenant_id: str, names: Sequence[str], ids: Sequence[str]
    ) -> list[KeyPair]:
        mine = await self.store.list(KeyPair, tenant_id)
        for name in names:
            if not any(k.name == name for k in mine):
                raise NotFound("keyname", name)
        for key_id in ids:
            check_id(key_id, "key")
            if not any(k.key_pair_id == key_id for k in mine):
                raise NotFound("key", key_id)
        if names or ids:
            return [k for k in mine if k.name in names or k.key_pair_id in ids]
        return mine

    async def delete_key_pair(
        self, tenant_id: str, *, name: str | None, key_pair_id: str | None
    ) -> None:
        """Idempotent by name, as EC2's DeleteKeyPair; an unknown id is NotFound."""
        if key_pair_id is not None:
            await self._owned(KeyPair, tenant_id, key_pair_id, "key")
        for key_pair in await self.store.list(KeyPair, tenant_id):
            if key_pair.name == name or key_pair.key_pair_id == key_pair_id:
                await self.store.delete(KeyPair, key_pair.key_pair_id)

    # -- security groups ---------------------------------------------------------------------

    async def create_security_group(
        self,
        tenant_id: str,
        name: str,
        description: str,
        tags: Tags = (),
        vpc_id: str | None = None,
    ) -> SecurityGroup:
        """A group of ``vpc_id`` (the default VPC without one: NoDefaultVpc once deleted);
        names are unique per VPC. It is inserted by a change of its VPC, so a VPC being
        deleted meanwhile either counts it or is gone first (vpcs.py)."""
        if not 1 <= len(name) <= NAME_MAX or name.startswith("sg-"):
            raise InvalidParameterValue(f"Invalid security group name '{name[:64]}'")
        if name == DEFAULT_GROUP_NAME:
            raise ReservedName(
                "The security group 'default' is reserved and is created with its VPC"
            )
        if vpc_id is None:
            vpc_id = (await self.default_network(tenant_id)).vpc.vpc_id
        await self.owned_vpc(tenant_id, vpc_id)
        if not 1 <= len(description) <= NAME_MAX:
            raise InvalidParameterValue("The group description is 1 to 255 characters")
        check_tags(tags)
        group = SecurityGroup(new_id("sg"), tenant_id, name, description, tags=tags, vpc_id=vpc_id)
        async with self._placement:
            for _ in range(10):
                vpc = await self._owned(Vpc, tenant_id, vpc_id, "vpc")
                for other in await self.store.list(SecurityGroup, tenant_id):
                    if other.name == name and await self.vpc_of_group(other) == vpc_id:
                        raise Duplicate("groupname", name)
                # EC2 lets a group of a VPC with IPv6 send IPv6 too (decision 0217).
                made = (
                    replace(group, egress=(*group.egress, ALLOW_ALL_IPV6_EGRESS))
                    if vpc.ipv6_blocks
                    else group
                )
                if await self.store.change(vpc, insert=[made]):
                    return made
        raise IncorrectState(f"{vpc_id} changed concurrently; retry")

    async def _default_vpc_groups(self, tenant_id: str) -> list[SecurityGroup]:
        """The groups a name can designate: EC2 takes names for the default VPC's only (a
        nondefault VPC's groups are named by id, or found with the group-name filter). None
        once the tenant deleted its default VPC."""
        network = await self.default_network_if_any(tenant_id)
        if network is None:
            return []
        default_vpc = network.vpc.vpc_id
        return [
            g
            for g in await self.store.list(SecurityGroup, tenant_id)
            if g.vpc_id in (None, default_vpc)
        ]

    async def describe_security_groups(
        self, tenant_id: str, ids: Sequence[str], names: Sequence[str]
    ) -> list[SecurityGroup]:
        # EC2 always shows the default group (while there is a default VPC).
        await self.default_network_if_any(tenant_id)
        mine = await self.store.list(SecurityGroup, tenant_id)
        named = await self._default_vpc_groups(tenant_id) if names else []
        for group_id in ids:
            check_id(group_id, "sg")
            if not any(g.group_id == group_id for g in mine):
                raise NotFound("sg", group_id)
        for name in names:
            if not any(g.name == name for g in named):
                raise NotFound("groupname", name)
        if ids or names:
            chosen = {g.group_id for g in named if g.name in names} | set(ids)
            return [g for g in mine if g.group_id in chosen]
        return mine

    async def security_group(
        self, tenant_id: str, *, group_id: str | None, name: str | None
    ) -> SecurityGroup:
        """The group of that id, or of that name in the default VPC."""
        if group_id:
            return await self._owned(SecurityGroup, tenant_id, group_id, "sg")
        # As on EC2, the default group exists before anything shows it: a first
        # AuthorizeSecurityGroupIngress --group-name default works.
        for group in await self._default_vpc_groups(tenant_id):
            if group.name == name:
                return group
        raise NotFound("groupname", name or "")

    async def delete_security_group(
        self, tenant_id: str, *, group_id: str | None, name: str | None
    ) -> SecurityGroup:
        group = await self.security_group(tenant_id, group_id=group_id, name=name)
        if group.name == DEFAULT_GROUP_NAME:
            raise CannotDelete("the default security group cannot be deleted")
        for other in await self.store.list(SecurityGroup, tenant_id):
            if other.group_id != group.group_id and any(
                rule.group_id == group.group_id for rule in (*other.ingress, *other.egress)
            ):
                raise ResourceInUse(
                    "sg", f"resource {group.group_id} has a dependent object ({other.group_id})"
                )
        for instance in await self.store.list(Instance, tenant_id):
            if (
                instance.state is not InstanceState.TERMINATED
                and group.group_id in instance.security_group_ids
            ):
                raise ResourceInUse("sg", f"resource {group.group_id} has a dependent object")
        for interface in await self.store.list(NetworkInterface, tenant_id):
            if group.group_id in interface.group_ids:  # an interface's own (decision 0161)
                raise ResourceInUse("sg", f"resource {group.group_id} has a dependent object")
        await self.store.delete(SecurityGroup, group.group_id)
        return group

    async def _check_peers(self, target: SecurityGroup, rules: Sequence[Rule]) -> None:
        """A group named in a rule must be the tenant's, and of the target's VPC: there is no
        peering for its members to come from. A prefix list named must be the tenant's (there
        is no sharing of lists between accounts): another's is not found — but the region's
        AWS-managed list of the object store, which any account's rules may name (decision
        0160's session-47 addendum)."""
        network = await self.vpc_of_group(target)
        for rule in rules:
            if rule.group_id is not None:
                named = await self._owned(SecurityGroup, target.tenant_id, rule.group_id, "sg")
                if await self.vpc_of_group(named) != network:
                    raise GroupInAnotherNetwork(rule.group_id)
            elif rule.prefix_list_id is not None:
                check_id(rule.prefix_list_id, "pl")
                if rule.prefix_list_id == managed_prefix_list_id(self.limits.region):
                    continue
                plist = await self.store.get(ManagedPrefixList, rule.prefix_list_id)
                if plist is None or plist.tenant_id != target.tenant_id:
                    raise NotFound("pl-rule", rule.prefix_list_id)

    async def prefix_list_sizes(self, tenant_id: str) -> dict[str, int]:
        """The MaxEntries of each of the tenant's managed prefix lists, by id; the object
        store's AWS-managed list weighs 1, as EC2's S3 list does."""
        lists = await self.store.list(ManagedPrefixList, tenant_id)
        sizes = {p.prefix_list_id: p.max_entries for p in lists}
        return sizes | {managed_prefix_list_id(self.limits.region): 1}

    async def update_rules(
        self, group: SecurityGroup, named: Sequence[Rule], **fields: Any
    ) -> SecurityGroup:
        """``group`` with ``fields``, written together with the prefix lists that the rules
        ``named`` reference, at the revisions read: a deletion of such a list at once either
        lands first (this write fails, and its retry finds the list gone) or sees the
        reference (DependencyViolation). IncorrectState when something moved on."""
        lists = []
        # The AWS-managed list is no record (decision 0160): nothing to write it with.
        managed = managed_prefix_list_id(self.limits.region)
        for list_id in sorted({r.prefix_list_id for r in named if r.prefix_list_id} - {managed}):
            plist = await self.store.get(ManagedPrefixList, list_id)
            if plist is None or plist.tenant_id != group.tenant_id:
                raise NotFound("pl-rule", list_id)
            lists.append(plist)
        if not lists:
            return await self._update(group, **fields)
        changed = replace(group, **fields)
        if not await self.store.change(changed, replace=lists):
            raise IncorrectState(f"{group.group_id} changed concurrently; retry")
        return replace(changed, revision=changed.revision + 1)

    def check_rules_quota(self, rules: Sequence[Rule], sizes: dict[str, int]) -> None:
        """EC2's quota of rules in one direction of a group, a prefix list's reference
        counting as its MaxEntries."""
        if rules_weight(rules, sizes) > self.limits.max_rules_per_security_group:
            raise RulesLimitExceeded(
                "The maximum number of rules per security group has been reached."
            )

    async def authorize(
        self,
        tenant_id: str,
        group_id: str,
        rules: Sequence[Rule],
        *,
        ingress: bool,
        tags: Tags = (),
    ) -> SecurityGroup:
        """The group with ``rules`` added, each given a new ``sgr-`` id and ``tags``
        (TagSpecifications of ``security-group-rule``, decision 0146)."""
        check_tags(tags)
        await self._check_peers(await self._owned(SecurityGroup, tenant_id, group_id, "sg"), rules)
        rules = [replace(r, rule_id=new_id("sgr"), tags=tags) for r in rules]
        sizes = await self.prefix_list_sizes(tenant_id)
        for _ in range(10):
            group = await self._owned(SecurityGroup, tenant_id, group_id, "sg")
            current = group.ingress if ingress else group.egress
            for rule in rules:
                if any(rule.same_permission(existing) for existing in current):
                    raise Duplicate("permission", describe_rule(rule, group_id))
            self.check_rules_quota((*current, *rules), sizes)
            field = "ingress" if ingress else "egress"
            try:
                changed = await self.update_rules(group, rules, **{field: (*current, *rules)})
            except IncorrectState:
                continue
            await self._push_firewalls(tenant_id, (group_id,))
            return changed
        raise IncorrectState(f"{group_id} changed concurrently; retry")

    async def revoke(
        self, tenant_id: str, group_id: str, rules: Sequence[Rule], *, ingress: bool
    ) -> tuple[SecurityGroup, list[Rule]]:
        """The group without ``rules`` (named by permission), and the rules revoked, with their
        ids and descriptions as they were stored."""
        for _ in range(10):
            group = await self._owned(SecurityGroup, tenant_id, group_id, "sg")
            current = group.ingress if ingress else group.egress
            for rule in rules:
                if not any(rule.same_permission(existing) for existing in current):
                    raise NotFound("permission", describe_rule(rule, group_id))
            kept = tuple(r for r in current if not any(r.same_permission(x) for x in rules))
            try:
                changed = await self._update(group, **{"ingress" if ingress else "egress": kept})
            except IncorrectState:
                continue
            await self._push_firewalls(tenant_id, (group_id,))
            return changed, [r for r in current if r not in kept]
        raise IncorrectState(f"{group_id} changed concurrently; retry")


def describe_rule(rule: Rule, group_id: str) -> str:
    ports = "" if rule.protocol == "-1" else f" {rule.from_port}-{rule.to_port}"
    return f"{group_id} {rule.protocol}{ports} {rule.group_id or rule.prefix_list_id or rule.cidr}"
