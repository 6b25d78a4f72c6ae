"""``andromede admin``: the platform operator's commands (tenants, their users and regions,
operators, the residency report, usage and cost, the audit log's signing key, the instances'
public DNS names, the hypervisor hosts' restarted network processes).

They work on the data folder and settings the way ``serve`` does (migrating the database first),
beside a running server or not. A change made here reaches a running server's caches within
``identity_cache_ttl`` seconds (a suspended tenant's keys stop working by then).

Secrets are printed once, to standard output, in the aws ``credentials`` INI form (a profile
named after the tenant) or as JSON with ``--json``, so scripts can use them.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from andromede.cli.audit_key import audit_key_app
from andromede.cli.billing_profile import billing_profile_app
from andromede.cli.dns_zone import dns_app
from andromede.cli.hosts import hosts
from andromede.cli.invoice import invoice_app
from andromede.cli.options import (
    ConfigOption,
    DataDirOption,
    JsonOption,
    TenantOption,
    err,
    settings_from,
)
from andromede.cli.residency import residency_app
from andromede.cli.usage import usage
from andromede.iam.errors import IamError, NoSuchEntity
from andromede.iam.service import IdentityService
from andromede.settings import Settings

__all__ = ["admin"]

admin = typer.Typer(no_args_is_help=True, help="Platform operator commands.")
tenant_app = typer.Typer(no_args_is_help=True, help="Tenants: create, list, suspend, close.")
user_app = typer.Typer(no_args_is_help=True, help="IAM users of a tenant.")
operator_app = typer.Typer(no_args_is_help=True, help="Platform operators.")
admin.add_typer(tenant_app, name="tenant")
admin.add_typer(user_app, name="user")
admin.add_typer(operator_app, name="operator")
admin.add_typer(residency_app, name="residency")
admin.command("usage")(usage)
admin.command("hosts")(hosts)
admin.add_typer(invoice_app, name="invoice")
admin.add_typer(billing_profile_app, name="billing-profile")
image_app = typer.Typer(no_args_is_help=True, help="Machine images for instances.")
admin.add_typer(image_app, name="image")
admin.add_typer(audit_key_app, name="audit-key")
admin.add_typer(dns_app, name="dns")

out = Console(soft_wrap=True)
_T = TypeVar("_T")


def _run(settings: Settings, work: Callable[[IdentityService], Awaitable[_T]]) -> _T:
    from andromede.app import open_identity  # late: the application stack is heavy

    async def main() -> _T:
        async with open_identity(settings) as identity:
            return await work(identity)

    try:
        return asyncio.run(main())
    except IamError as exc:
        err.print(f"[red]{type(exc).__name__}:[/red] {exc}")
        raise typer.Exit(1) from exc


def _audited(settings: Settings, tenant_id: str | None, action: str, resource: str) -> None:
    """The command's change as an event of the tenant's log (the platform's for none), as the
    management API records the same change (decision 0124)."""
    from andromede.app import record_operator_action

    asyncio.run(
        record_operator_action(settings, tenant_id=tenant_id, action=action, resource=resource)
    )


def _print_json(value: object) -> None:
    typer.echo(json.dumps(value, indent=2))


def _ini(access_key_id: str, secret_access_key: str, profile: str) -> None:
    from andromede.app import credentials_ini

    typer.echo(credentials_ini(access_key_id, secret_access_key, profile), nl=False)


# -- tenants ------------------------------------------------------------------------------------
@tenant_app.command("create")
def tenant_create(
    name: str,
    as_json: JsonOption = False,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Create a tenant with its root user; print the root's access key (shown once)."""
    settings = settings_from(config, data_dir)
    created = _run(settings, lambda identity: identity.create_tenant(name))
    account = created.tenant.id
    _audited(settings, account, "andromede:CreateTenant", f"tenant/{account}")
    if as_json:
        _print_json(
            {
                "tenant_id": created.tenant.id,
                "name": created.tenant.name,
                "profile": created.tenant.name,
                "aws_access_key_id": created.access_key_id,
                "aws_secret_access_key": created.secret_access_key,
            }
        )
        return
    _ini(created.access_key_id, created.secret_access_key, name)
    err.print(f"tenant {name} created, account id {created.tenant.id}")


@tenant_app.command("list")
def tenant_list(
    as_json: JsonOption = False, config: ConfigOption = None, data_dir: DataDirOption = None
) -> None:
    """Every tenant with its account id and status."""
    tenants = _run(settings_from(config, data_dir), lambda identity: identity.list_tenants())
    if as_json:
        _print_json(
            [
                {
                    "tenant_id": t.id,
                    "name": t.name,
                    "status": t.status.value,
                    "created_at": t.created_at.isoformat(),
                }
                for t in tenants
            ]
        )
        return
    table = Table("account id", "name", "status", "created")
    for t in tenants:
        table.add_row(t.id, t.name, t.status.value, t.created_at.strftime("%Y-%m-%d %H:%M:%SZ"))
    out.print(table)


def _move(action: str) -> Callable[..., None]:
    def command(
        tenant: Annotated[str, typer.Argument(help="Tenant name or account id.")],
        config: ConfigOption = None,
        data_dir: DataDirOption = None,
    ) -> None:
        async def work(identity: IdentityService) -> tuple[str, str]:
            moves = {
                "suspend": identity.suspend_tenant,
                "reactivate": identity.reactivate_tenant,
            }
            moved = await moves[action](tenant)
            return moved.status.value, moved.id

        settings = settings_from(config, data_dir)
        status, account = _close(settings, tenant) if action == "close" else _run(settings, work)
        _audited(settings, account, f"andromede:{action.capitalize()}Tenant", f"tenant/{account}")
        err.print(f"tenant {tenant} is {status}")

    return command


tenant_app.command("suspend", help="Suspend a tenant: its keys stop working; nothing is deleted.")(
    _move("suspend")
)
tenant_app.command("reactivate", help="Make a suspended tenant active again.")(_move("reactivate"))
tenant_app.command(
    "close",
    help="Close a tenant for good: its encryption keys are destroyed (every object of it "
    "becomes unreadable, for good), its access keys deactivated, its sessions ended.",
)(_move("close"))


def _close(settings: Settings, tenant: str) -> tuple[str, str]:
    from andromede.app import open_tenant_closer  # late: the application stack is heavy

    async def main() -> tuple[str, str]:
        async with open_tenant_closer(settings) as close:
            closed = await close(tenant)
            return closed.status.value, closed.id

    try:
        return asyncio.run(main())
    except IamError as exc:
        err.print(f"[red]{type(exc).__name__}:[/red] {exc}")
        raise typer.Exit(1) from exc


@tenant_app.command("regions")
def tenant_regions(
    tenant: Annotated[str, typer.Argument(help="Tenant name or account id.")],
    allow: Annotated[
        str | None,
        typer.Option("--allow", help="Comma-separated regions its buckets may be created in."),
    ] = None,
    every: Annotated[
        bool, typer.Option("--all", help="Lift the restriction: every region.")
    ] = False,
    as_json: JsonOption = False,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Show, or with --allow / --all set, the regions a tenant's new buckets may go to (no
    restriction: every region). Existing buckets stay where they are."""
    settings = settings_from(config, data_dir)
    if allow is not None and every:
        err.print("[red]--allow and --all exclude each other[/red]")
        raise typer.Exit(2)
    wanted: list[str] | None = [] if every else None
    if allow is not None:
        wanted = [name.strip() for name in allow.split(",") if name.strip()]
        declared = {r.name for r in settings.declared_regions}
        unknown = sorted(set(wanted) - declared)
        if not wanted or unknown:
            err.print(f"[red]not regions of this deployment:[/red] {', '.join(unknown) or allow!r}")
            raise typer.Exit(2)

    async def work(identity: IdentityService) -> tuple[frozenset[str], str]:
        account = (await identity.get_tenant(tenant)).id
        if wanted is None:
            return await identity.get_tenant_regions(account), account
        return await identity.set_tenant_regions(account, wanted), account

    regions, account = _run(settings, work)
    if wanted is not None:
        _audited(settings, account, "andromede:PutTenantRegions", f"tenant/{account}")
    allowed = sorted(regions)
    if as_json:
        _print_json({"tenant": tenant, "allowed_regions": allowed})
        return
    typer.echo(", ".join(allowed) if allowed else "every region")


# -- users --------------------------------------------------------------------------------------
@user_app.command("create")
def user_create(
    name: str,
    tenant: TenantOption,
    path: Annotated[str, typer.Option(help="IAM path, /like/this/.")] = "/",
    access_key: Annotated[
        bool, typer.Option("--access-key", help="Also create an access key and print it.")
    ] = False,
    as_json: JsonOption = False,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Create an IAM user in a tenant (it has no permission until a policy grants some)."""

    async def work(identity: IdentityService) -> dict[str, str]:
        account = (await identity.get_tenant(tenant)).id
        user = await identity.create_user(account, name, path)
        result = {"tenant_id": account, "user_name": user.name, "user_id": user.id, "arn": user.arn}
        if access_key:
            key = await identity.create_access_key(account, user.name)
            result["aws_access_key_id"] = key.key.access_key_id
            result["aws_secret_access_key"] = key.secret_access_key
        return result

    settings = settings_from(config, data_dir)
    result = _run(settings, work)
    _audited(settings, result["tenant_id"], "iam:CreateUser", result["arn"])
    if access_key:
        _audited(settings, result["tenant_id"], "iam:CreateAccessKey", result["arn"])
    if as_json:
        _print_json(result)
        return
    err.print(f"user {result['arn']} created")
    if access_key:
        profile = f"{tenant}-{name}"
        _ini(result["aws_access_key_id"], result["aws_secret_access_key"], profile)


@user_app.command("list")
def user_list(
    tenant: TenantOption,
    as_json: JsonOption = False,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """The IAM users of a tenant."""

    async def work(identity: IdentityService) -> list[dict[str, str]]:
        account = (await identity.get_tenant(tenant)).id
        users = []
        marker = None
        while True:
            page = await identity.list_users(account, marker=marker, max_items=1000)
            users += page.items
            if not page.is_truncated:
                break
            marker = page.marker
        return [
            {
                "user_name": u.name,
                "user_id": u.id,
                "arn": u.arn,
                "created_at": u.created_at.isoformat(),
            }
            for u in users
        ]

    users = _run(settings_from(config, data_dir), work)
    if as_json:
        _print_json(users)
        return
    table = Table("name", "user id", "arn")
    for user in users:
        table.add_row(user["user_name"], user["user_id"], user["arn"])
    out.print(table)


@user_app.command("delete")
def user_delete(
    name: str,
    tenant: TenantOption,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Delete an IAM user (refused while it has keys, policies, groups or MFA, as on AWS)."""

    async def work(identity: IdentityService) -> str:
        account = (await identity.get_tenant(tenant)).id
        await identity.delete_user(account, name)
        return account

    settings = settings_from(config, data_dir)
    account = _run(settings, work)
    _audited(settings, account, "iam:DeleteUser", f"arn:aws:iam::{account}:user/{name}")
    err.print(f"user {name} deleted")


@user_app.command("set-password")
def user_set_password(
    name: str,
    tenant: TenantOption,
    password_stdin: Annotated[
        bool,
        typer.Option("--password-stdin", help="Read the password from standard input."),
    ] = False,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Set the console password of a user (``root`` for the tenant's root user), for the
    management API's and the console's login. It ends the user's console sessions."""
    # Never an argument: command lines are visible to every user of the machine (ps).
    if password_stdin:
        password = typer.get_text_stream("stdin").readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)

    async def work(identity: IdentityService) -> str:
        account = (await identity.get_tenant(tenant)).id
        try:
            await identity.update_login_profile(account, name, password)
        except NoSuchEntity:  # no password yet (or no such user: create says which)
            await identity.create_login_profile(account, name, password)
        return account

    settings = settings_from(config, data_dir)
    account = _run(settings, work)
    who = (
        f"arn:aws:iam::{account}:root" if name == "root" else f"arn:aws:iam::{account}:user/{name}"
    )
    # The event names the user; never the password.
    _audited(settings, account, "iam:UpdateLoginProfile", who)
    err.print(f"console password of {name} in {tenant} set")


# -- operators ----------------------------------------------------------------------------------
@operator_app.command("create")
def operator_create(
    name: str,
    as_json: JsonOption = False,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Create a platform operator and print its access key (shown once)."""
    settings = settings_from(config, data_dir)
    created = _run(settings, lambda identity: identity.create_operator(name))
    _audited(settings, None, "andromede:CreateOperator", created.operator.arn)
    if as_json:
        _print_json(
            {
                "operator_id": created.operator.id,
                "name": created.operator.name,
                "arn": created.operator.arn,
                "aws_access_key_id": created.access_key_id,
                "aws_secret_access_key": created.secret_access_key,
            }
        )
        return
    profile = f"andromede-operator-{name}"
    _ini(created.access_key_id, created.secret_access_key, profile)
    err.print(f"operator {created.operator.arn} created")


# -- images -------------------------------------------------------------------------------------
@image_app.command("import")
def image_import(
    path: Annotated[Path, typer.Argument(help="A qcow2 or raw disk image file.")],
    name: Annotated[str, typer.Option("--name", help="The image's name (3-128 characters).")],
    public: Annotated[
        bool, typer.Option("--public", help="Offer the image to every tenant.")
    ] = False,
    tenant: Annotated[
        str | None, typer.Option("--tenant", help="Tenant (name or id) the image is private to.")
    ] = None,
    description: Annotated[str, typer.Option(help="The image's description.")] = "",
    as_json: JsonOption = False,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Import a local disk image (copied, checksummed) as a public or tenant-private image."""
    if public == (tenant is not None):
        err.print("[red]give exactly one of --public and --tenant[/red]")
        raise typer.Exit(2)
    if not path.is_file():
        err.print(f"[red]no such file:[/red] {path}")
        raise typer.Exit(2)
    from andromede.app import open_image_library  # late: the application stack is heavy
    from andromede.compute.errors import ComputeError

    settings = settings_from(config, data_dir)

    async def main() -> dict[str, object]:
        async with open_image_library(settings) as (compute, identity):
            owner = None if tenant is None else (await identity.get_tenant(tenant)).id
            image = await compute.import_image_file(
                path, name=name, owner_id=owner, description=description
            )
            return {
                "image_id": image.image_id,
                "name": image.name,
                "owner_id": image.owner_id,
                "format": image.disk_format,
                "size": image.size_bytes,
                "sha256": image.sha256,
            }

    try:
        result = asyncio.run(main())
    except (IamError, ComputeError) as exc:
        err.print(f"[red]{type(exc).__name__}:[/red] {exc}")
        raise typer.Exit(1) from exc
    owner = result["owner_id"]
    _audited(
        settings,
        owner if isinstance(owner, str) else None,
        "andromede:ImportImage",
        f"arn:aws:ec2:{settings.region}::image/{result['image_id']}",
    )
    if as_json:
        _print_json(result)
        return
    err.print(f"image {result['image_id']} ({result['format']}, sha256 {result['sha256']})")
    typer.echo(result["image_id"])
