"""CloudWatch Logs' field index policies kept and answered (decision 0232): a group's own
(PutIndexPolicy, DescribeIndexPolicies, DeleteIndexPolicy; two columns of the group's row)
and the account's (PutAccountPolicy of ``FIELD_INDEX_POLICY``, among the account's
policies), with AWS's precedence: a group's own policy overrides the account's; of the
account's, the one whose ``LogGroupNamePrefix`` matches the group (no two overlap), else the
one without criteria. Nothing is indexed (``logs.field_indexes`` says why: Logs Insights'
results do not depend on it)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from andromede.logs.account_policies import FIELD_INDEX, AccountPolicy, check_account_policy
from andromede.logs.errors import InvalidParameter, LimitExceeded, ResourceNotFound
from andromede.logs.field_indexes import (
    MAX_PREFIXES,
    check_index_document,
    check_prefix_selection,
    matching_prefix,
    overlapping,
)
from andromede.logs.log_classes import refuse_infrequent_access
from andromede.logs.model import LogGroup, group_arn
from andromede.logs.store import LogStore

__all__ = ["IndexPolicies"]

_ACCOUNT_DOCUMENT: Final = 30_720  # AWS's bound on an account policy's document


class IndexPolicies:
    def __init__(self, store: LogStore, clock: Callable[[], int], region: str) -> None:
        self._store = store
        self._clock = clock
        self._region = region

    # The group's own policy.

    async def put_group_policy(self, group: LogGroup, document: object) -> dict[str, Any]:
        refuse_infrequent_access(group.log_class, "Field index policies")
        checked = check_index_document(document)
        updated = self._clock()
        if not await self._store.set_index_policy(group.tenant_id, group.name, checked, updated):
            raise ResourceNotFound("The specified log group does not exist.")
        return self._group_shape(group, checked, updated)

    async def delete_group_policy(self, group: LogGroup) -> None:
        if group.index_policy is None:
            raise ResourceNotFound("No index policy is attached to the log group.")
        await self._store.set_index_policy(group.tenant_id, group.name, None, None)

    async def describe(self, group: LogGroup) -> dict[str, Any] | None:
        """The policy that applies to ``group``: its own, else the account's that covers it."""
        if group.index_policy is not None:
            return self._group_shape(group, group.index_policy, group.index_policy_updated)
        account = await self._applying(group)
        if account is None:
            return None
        return {
            "logGroupIdentifier": group_arn(self._region, group.tenant_id, group.name),
            "lastUpdateTime": account.updated,
            "policyDocument": account.document,
            "policyName": account.name,
            "source": "ACCOUNT",
        }

    def _group_shape(self, group: LogGroup, document: str, updated: int | None) -> dict[str, Any]:
        # A group's own policy has no name, as AWS's answer.
        return {
            "logGroupIdentifier": group_arn(self._region, group.tenant_id, group.name),
            "lastUpdateTime": updated,
            "policyDocument": document,
            "source": "LOG_GROUP",
        }

    async def _applying(self, group: LogGroup) -> AccountPolicy | None:
        everywhere = None
        for policy in await self._store.list_account_policies(group.tenant_id, FIELD_INDEX):
            prefixes = check_prefix_selection(policy.selection_criteria)
            if prefixes is None:
                everywhere = policy
            elif matching_prefix(prefixes, group.name) is not None:
                return policy
        return everywhere

    # The account's policies.

    async def put_account_policy(
        self,
        tenant_id: str,
        name: object,
        document: object,
        scope: object,
        selection: str | None,
        *,
        dry_run: bool = False,
    ) -> AccountPolicy:
        """Make or replace the account policy ``name``: one without criteria, and up to
        twenty by prefixes that overlap no other's (AWS's rules)."""
        checked_name, checked_type, checked_scope = check_account_policy(name, FIELD_INDEX, scope)
        checked = check_index_document(document, _ACCOUNT_DOCUMENT)
        prefixes = check_prefix_selection(selection)
        others = [
            p
            for p in await self._store.list_account_policies(tenant_id, FIELD_INDEX)
            if p.name != checked_name
        ]
        scoped = {p.name: check_prefix_selection(p.selection_criteria) for p in others}
        if prefixes is None:
            if any(found is None for found in scoped.values()):
                raise LimitExceeded(
                    "An account can have only one account-level field index policy without "
                    "selection criteria."
                )
        else:
            if sum(found is not None for found in scoped.values()) >= MAX_PREFIXES:
                raise LimitExceeded(
                    f"An account can have at most {MAX_PREFIXES} account-level field index "
                    "policies with LogGroupNamePrefix selection criteria."
                )
            for other, found in scoped.items():
                clash = None if found is None else overlapping(prefixes, found)
                if clash is not None:
                    raise InvalidParameter(
                        f"The LogGroupNamePrefix {clash[:512]!r} of the field index policy "
                        f"{other[:256]} overlaps this policy's prefixes."
                    )
        policy = AccountPolicy(
            tenant_id,
            checked_type,
            checked_name,
            checked,
            checked_scope,
            self._clock(),
            selection,
        )
        if not dry_run:
            await self._store.put_account_policy(policy)
        return policy

    async def delete_account_policy(self, tenant_id: str, name: object) -> None:
        if not isinstance(name, str) or not await self._store.delete_account_policy(
            tenant_id, FIELD_INDEX, name
        ):
            raise ResourceNotFound("Policy with the specified name does not exist.")

    async def forget_tenant(self, tenant_id: str) -> None:
        for policy in await self._store.list_account_policies(tenant_id, FIELD_INDEX):
            await self._store.delete_account_policy(tenant_id, FIELD_INDEX, policy.name)
