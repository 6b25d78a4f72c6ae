"""Managed prefix lists (decision 0149), read only: the account's lists with their current
entries, as DescribeManagedPrefixLists and GetManagedPrefixListEntries answer the signed-in
user (``wire_prefix_lists``), so EC2's policies decide what is shown. Lists are made and
changed with the EC2 API (boto3, the aws CLI, Terraform); a security group's page shows the
rules naming one."""

from __future__ import annotations

from typing import Any, Final

from andromede.console.pages_ec2 import read_only_list
from andromede.console.wire_prefix_lists import describe_prefix_lists

__all__ = ["ROUTES"]

ROUTES: Final[list[tuple[str, Any, list[str]]]] = [
    (
        "/prefix-lists",
        read_only_list(
            "ec2_prefix_lists.html",
            "prefix_lists",
            lambda _: _("Prefix lists"),
            describe_prefix_lists,
        ),
        ["GET"],
    ),
]
