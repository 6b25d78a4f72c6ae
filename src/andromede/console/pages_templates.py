"""Snapshots and launch templates. Snapshots: list the account's, take one of a volume, delete
one, make a volume of one. Launch templates: list, create, delete; a template's versions, a
new version, the default version chosen, and an instance launched from a version. Every read
and change is EC2's own call, made as the signed-in principal (``wire_ec2_more`` over
``wire_ec2.Ec2Wire``), so EC2's policies, states and errors decide, and EC2 audits the changes
as it audits boto3's. A refused change shows the page again with EC2's error and status, and
what was typed in the form that was sent."""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import suppress
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response

from andromede.console import wire_ec2_more as more
from andromede.console.handlers import first_refusal, signed_in
from andromede.console.pages_ec2 import action, client_token, field, no_ec2
from andromede.console.session import CONSOLE_PATH
from andromede.console.wire import WireError
from andromede.console.wire_ec2 import Ec2Wire, LaunchChoices, VolumeRow
from andromede.console.wire_ec2_more import SnapshotRow, TemplateData, TemplateRow, VersionRow
from andromede.iam.model import Principal

if TYPE_CHECKING:
    from andromede.console.app import Console, Session

__all__ = ["ROUTES"]

_SNAPSHOTS_URL: Final = f"{CONSOLE_PATH}/snapshots"
_VOLUMES_URL: Final = f"{CONSOLE_PATH}/volumes"
_INSTANCES_URL: Final = f"{CONSOLE_PATH}/instances"
_TEMPLATES_URL: Final = f"{CONSOLE_PATH}/launch-templates"
# A template's form: its six fields, and one per security group chosen, up to 16 (AWS's most
# per network interface, as the launch page takes).
_TEMPLATE_FIELDS: Final = 6 + 16
# DescribeVolumes' most per page: the snapshot form's suggestions are its first page.
_SUGGESTED_VOLUMES: Final = 500


def _template_url(template_id: str) -> str:
    return f"{_TEMPLATES_URL}/{quote(template_id, safe='')}"


async def _groups_chosen(request: Request) -> tuple[str, ...]:
    """The form's security groups, a repeated field (the form was read once, by
    ``console.form``; Starlette keeps it)."""
    form = await request.form()
    return tuple(v for v in form.getlist("security_group_id") if isinstance(v, str) and v)


# -- snapshots -------------------------------------------------------------------------------


async def _snapshots_page(
    console: Console,
    request: Request,
    session: Session,
    *,
    typed: Mapping[str, Mapping[str, str]] | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    _ = console.catalogue(request).gettext
    snapshots: list[SnapshotRow] = []
    volumes: list[VolumeRow] = []
    zones: list[str] = []
    if console.ec2 is None:
        error, status = no_ec2(console, request)
    else:
        origin, principal = request.scope, session.principal
        try:
            snapshots = await more.describe_snapshots(console.ec2, origin, principal)
        except WireError as exc:
            error, status = first_refusal(console, request, exc, error, status)
        # Only suggestions for the forms' fields: CreateSnapshot's and CreateVolume's own
        # answers decide.
        with suppress(WireError):
            volumes, _next = await console.ec2.describe_volumes(
                origin, principal, token=None, page_size=_SUGGESTED_VOLUMES
            )
        with suppress(WireError):
            zones = await console.ec2.availability_zones(origin, principal)
    return console.render(
        request,
        "snapshots.html",
        session=session,
        status=status,
        title=_("Snapshots"),
        snapshots=snapshots,
        volumes=volumes,
        zones=zones,
        # One token per row's form: each makes its own volume.
        client_tokens={s.snapshot_id: client_token() for s in snapshots},
        typed=(typed or {}).get("create", {}),
        error=error,
    )


async def _create_snapshot(
    ec2: Ec2Wire, request: Request, who: Principal, f: dict[str, str]
) -> str:
    volume_id, description = field(f, "volume_id"), field(f, "description")
    await more.create_snapshot(ec2, request.scope, who, volume_id, description)
    return _SNAPSHOTS_URL


async def _delete_snapshot(
    ec2: Ec2Wire, request: Request, who: Principal, f: dict[str, str]
) -> str:
    await more.delete_snapshot(ec2, request.scope, who, request.path_params["snapshot_id"])
    return _SNAPSHOTS_URL


async def _volume_from_snapshot(
    ec2: Ec2Wire, request: Request, who: Principal, f: dict[str, str]
) -> str:
    await more.create_volume_from_snapshot(
        ec2, request.scope, who,
        snapshot_id=request.path_params["snapshot_id"], zone=field(f, "zone"),
        size_gib=field(f, "size"), client_token=field(f, "client_token"),
    )  # fmt: skip
    return _VOLUMES_URL


# -- launch templates ------------------------------------------------------------------------


async def _choices(console: Console, request: Request, session: Session) -> LaunchChoices:
    """The launch page's lists, as suggestions for a template's data: EC2 checks what is
    sent, so a caller who may not list images may still name one."""
    choices = LaunchChoices([], [], [], [], [])
    if console.ec2 is not None:
        with suppress(WireError):
            choices = await console.ec2.launch_choices(request.scope, session.principal)
    return choices


async def _typed_data(
    request: Request, typed: Mapping[str, str] | None, default: VersionRow | None
) -> dict[str, Any]:
    """The template form's values: a refused form's as typed, else ``default``'s data."""
    if typed is not None:
        return {
            "description": typed.get("description", ""),
            "name": typed.get("name", ""),
            "image_id": typed.get("image_id", ""),
            "instance_type": typed.get("instance_type", ""),
            "key_name": typed.get("key_name", ""),
            "security_group_ids": await _groups_chosen(request),
        }
    if default is None:
        return {"security_group_ids": ()}
    return {
        "image_id": default.image_id,
        "instance_type": default.instance_type,
        "key_name": default.key_name,
        "security_group_ids": default.security_group_ids,
    }


async def _templates_page(
    console: Console,
    request: Request,
    session: Session,
    *,
    typed: Mapping[str, Mapping[str, str]] | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    _ = console.catalogue(request).gettext
    templates: list[TemplateRow] = []
    if console.ec2 is None:
        error, status = no_ec2(console, request)
    else:
        try:
            templates = await more.describe_launch_templates(
                console.ec2, request.scope, session.principal
            )
        except WireError as exc:
            error, status = first_refusal(console, request, exc, error, status)
    return console.render(
        request,
        "launch_templates.html",
        session=session,
        status=status,
        title=_("Launch templates"),
        templates=templates,
        choices=await _choices(console, request, session),
        chosen=await _typed_data(request, (typed or {}).get("create"), None),
        error=error,
    )


async def _template_page(
    console: Console,
    request: Request,
    session: Session,
    *,
    typed: Mapping[str, Mapping[str, str]] | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    """A template's versions, and the forms that add one, choose the default, and launch;
    another account's template is EC2's InvalidLaunchTemplateId.NotFound, as one that does
    not exist."""
    _ = console.catalogue(request).gettext
    template_id = request.path_params["template_id"]
    template: TemplateRow | None = None
    versions: list[VersionRow] = []
    if console.ec2 is None:
        error, status = no_ec2(console, request)
    else:
        origin, principal = request.scope, session.principal
        try:
            template = await more.describe_launch_template(
                console.ec2, origin, principal, template_id
            )
            if template is not None:
                versions = await more.describe_launch_template_versions(
                    console.ec2, origin, principal, template_id
                )
        except WireError as exc:
            error, status = first_refusal(console, request, exc, error, status)
        if template is None and error is None:
            error, status = _("No such launch template."), 404
    latest = versions[0] if versions else None
    return console.render(
        request,
        "launch_templates_detail.html",
        session=session,
        status=status,
        title=template.name if template is not None else template_id,
        launch_template=template,
        versions=versions,
        choices=await _choices(console, request, session) if template is not None else None,
        chosen=await _typed_data(request, (typed or {}).get("version"), latest),
        client_token=client_token(),
        error=error,
    )


async def _data(request: Request, f: dict[str, str]) -> TemplateData:
    return TemplateData(
        description=field(f, "description"),
        image_id=field(f, "image_id"),
        instance_type=field(f, "instance_type"),
        key_name=field(f, "key_name"),
        security_group_ids=await _groups_chosen(request),
    )


async def _create_template(
    ec2: Ec2Wire, request: Request, who: Principal, f: dict[str, str]
) -> str:
    data = await _data(request, f)
    template_id = await more.create_launch_template(ec2, request.scope, who, field(f, "name"), data)
    # To its page, where versions are added (the list, should EC2 have named none).
    return _template_url(template_id) if template_id else _TEMPLATES_URL


async def _delete_template(
    ec2: Ec2Wire, request: Request, who: Principal, f: dict[str, str]
) -> str:
    await more.delete_launch_template(ec2, request.scope, who, request.path_params["template_id"])
    return _TEMPLATES_URL


async def _create_version(ec2: Ec2Wire, request: Request, who: Principal, f: dict[str, str]) -> str:
    template_id = request.path_params["template_id"]
    data = await _data(request, f)
    await more.create_launch_template_version(ec2, request.scope, who, template_id, data)
    return _template_url(template_id)


async def _set_default(ec2: Ec2Wire, request: Request, who: Principal, f: dict[str, str]) -> str:
    template_id = request.path_params["template_id"]
    await more.set_default_version(ec2, request.scope, who, template_id, field(f, "version"))
    return _template_url(template_id)


async def _launch(ec2: Ec2Wire, request: Request, who: Principal, f: dict[str, str]) -> str:
    await more.run_from_template(
        ec2, request.scope, who,
        template_id=request.path_params["template_id"], version=field(f, "version"),
        client_token=field(f, "client_token"),
    )  # fmt: skip
    return _INSTANCES_URL


ROUTES: Final[list[tuple[str, Any, list[str]]]] = [
    ("/snapshots", signed_in(_snapshots_page), ["GET"]),
    ("/snapshots", action(_snapshots_page, _create_snapshot, form="create"), ["POST"]),
    ("/snapshots/{snapshot_id}/delete", action(_snapshots_page, _delete_snapshot), ["POST"]),
    ("/snapshots/{snapshot_id}/volume", action(_snapshots_page, _volume_from_snapshot),
     ["POST"]),
    ("/launch-templates", signed_in(_templates_page), ["GET"]),
    ("/launch-templates",
     action(_templates_page, _create_template, form="create", max_fields=_TEMPLATE_FIELDS),
     ["POST"]),
    ("/launch-templates/{template_id}", signed_in(_template_page), ["GET"]),
    ("/launch-templates/{template_id}/delete", action(_templates_page, _delete_template),
     ["POST"]),
    ("/launch-templates/{template_id}/versions",
     action(_template_page, _create_version, form="version", max_fields=_TEMPLATE_FIELDS),
     ["POST"]),
    ("/launch-templates/{template_id}/default", action(_template_page, _set_default),
     ["POST"]),
    ("/launch-templates/{template_id}/launch", action(_template_page, _launch), ["POST"]),
]  # fmt: skip
