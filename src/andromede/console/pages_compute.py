"""Instances, volumes and key pairs: list, launch, start, stop, reboot, terminate and read an
instance's console, chart its metrics and switch its detailed monitoring; create, attach,
detach and delete volumes; create, import and delete key pairs. Every action is EC2's own
call, made as the signed-in principal (``wire_ec2.Ec2Wire``), so EC2's policies, states and
errors decide, and EC2 audits them as it audits boto3's calls.

A created key pair's private key is on its answer page only: EC2 returns it once, the console
keeps it nowhere and logs nothing of it, and pages are never cached (``Cache-Control:
no-store``, the console app's)."""

from __future__ import annotations

from contextlib import suppress
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote, urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from andromede.console import wire_addresses as addresses
from andromede.console.handlers import Form, Handler, Typed, first_refusal, posted, signed_in
from andromede.console.instance_monitoring import (
    InstanceCharts,
    instance_charts,
    metrics_href,
    switch,
)
from andromede.console.pages_ec2 import action, client_token, no_ec2
from andromede.console.session import CONSOLE_PATH
from andromede.console.wire import WireError
from andromede.console.wire_addresses import AddressRow
from andromede.console.wire_ec2 import (
    Ec2Wire,
    InstancePage,
    InstanceRow,
    KeyPairRow,
    Launch,
    LaunchChoices,
    StateChange,
    VolumeRow,
)
from andromede.iam.model import Principal

if TYPE_CHECKING:
    from andromede.console.app import Console, Session

__all__ = ["ROUTES"]

_INSTANCES_URL: Final = f"{CONSOLE_PATH}/instances"
_VOLUMES_URL: Final = f"{CONSOLE_PATH}/volumes"
_KEY_PAIRS_URL: Final = f"{CONSOLE_PATH}/key-pairs"

# The buttons a row shows for each state: the calls EC2's lifecycle takes from it. Only an
# aid to the reader: EC2 decides, and answers IncorrectInstanceState to anything else.
_STATE_OPERATIONS: Final[dict[str, tuple[str, ...]]] = {
    "pending": ("terminate",),
    "running": ("stop", "reboot", "terminate"),
    "stopping": ("terminate",),
    "stopped": ("start", "terminate"),
}
_OPERATION_ACTIONS: Final[dict[str, StateChange]] = {
    "start": "StartInstances",
    "stop": "StopInstances",
    "reboot": "RebootInstances",
    "terminate": "TerminateInstances",
}
# The launch form's eight fields, and one per security group chosen: up to 16, AWS's most
# per network interface. More than ``console.form``'s usual bound of 16 fields in all.
_LAUNCH_FIELDS: Final = 8 + 16
_KEY_TYPES: Final = ("rsa", "ed25519")


# -- instances -------------------------------------------------------------------------------


async def _instances_page(
    console: Console,
    request: Request,
    session: Session,
    *,
    token: str | None = None,
    typed: Typed | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    """The list; ``error``, an action's refusal, is shown before any of the listing's."""
    _ = console.catalogue(request).gettext
    page = InstancePage([], None)
    if console.ec2 is None:
        error, status = no_ec2(console, request)
    else:
        try:
            page = await console.ec2.describe_instances(
                request.scope,
                session.principal,
                token=token,
                page_size=console.settings.console_page_size,
            )
        except WireError as exc:
            error, status = first_refusal(console, request, exc, error, status)
    next_url = f"{_INSTANCES_URL}?{urlencode({'token': page.next_token})}"
    return console.render(
        request,
        "instances.html",
        session=session,
        status=status,
        title=_("Instances"),
        instances=page.instances,
        operations=_STATE_OPERATIONS,
        labels={
            "start": _("Start"),
            "stop": _("Stop"),
            "reboot": _("Reboot"),
            "terminate": _("Terminate"),
        },
        next_url=next_url if page.next_token else None,
        error=error,
    )


@signed_in
async def instances(console: Console, request: Request, session: Session) -> Response:
    token = request.query_params.get("token")
    return await _instances_page(console, request, session, token=token)


async def _launch_page(
    console: Console,
    request: Request,
    session: Session,
    *,
    chosen: Launch | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    """The launch form, its lists EC2's answers for the caller; ``chosen``: a refused
    launch's fields, offered again."""
    _ = console.catalogue(request).gettext
    choices = LaunchChoices([], [], [], [], [])
    if console.ec2 is None:
        error, status = no_ec2(console, request)
    else:
        try:
            choices = await console.ec2.launch_choices(request.scope, session.principal)
        except WireError as exc:
            error, status = first_refusal(console, request, exc, error, status)
    return console.render(
        request,
        "instances_launch.html",
        session=session,
        status=status,
        title=_("Launch an instance"),
        choices=choices,
        chosen=chosen or Launch("", "", "1", "", "", (), "", ""),
        client_token=client_token(),
        error=error,
    )


@signed_in
async def launch_form(console: Console, request: Request, session: Session) -> Response:
    """The form, its image chosen when the link named one (the images page's "Launch")."""
    image_id = request.query_params.get("image_id", "")
    chosen = Launch(image_id, "", "1", "", "", (), "", "")
    return await _launch_page(console, request, session, chosen=chosen)


@posted(max_fields=_LAUNCH_FIELDS)
async def launch(console: Console, request: Request, session: Session, fields: Form) -> Response:
    form = await request.form()  # the same form, parsed once: the groups are a repeated field
    if console.ec2 is None:
        return await _instances_page(console, request, session, token=None)
    chosen = Launch(
        image_id=fields.get("image_id", ""),
        instance_type=fields.get("instance_type", ""),
        count=fields.get("count", "").strip(),
        key_name=fields.get("key_name", ""),
        subnet_id=fields.get("subnet_id", ""),
        security_group_ids=tuple(
            v for v in form.getlist("security_group_id") if isinstance(v, str) and v
        ),
        name=fields.get("name", "").strip(),
        client_token=fields.get("client_token", ""),
    )
    try:
        await console.ec2.run_instances(request.scope, session.principal, chosen)
    except WireError as exc:
        return await _launch_page(
            console, request, session, chosen=chosen,
            error=console.error_text(request, exc), status=exc.status,
        )  # fmt: skip
    return RedirectResponse(_INSTANCES_URL, status_code=303)


async def _instance_page(
    console: Console,
    request: Request,
    session: Session,
    *,
    typed: Typed | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    """One instance: its details, its Elastic IP, its monitoring and charts (decision 0178)
    and its console's output."""
    _ = console.catalogue(request).gettext
    instance_id = request.path_params["instance_id"]
    found: InstanceRow | None = None
    elastic_ip: AddressRow | None = None
    charts: InstanceCharts | None = None
    output = ""
    if console.ec2 is None:
        error, status = no_ec2(console, request)
    else:
        origin, principal = request.scope, session.principal
        try:
            found = await console.ec2.describe_instance(origin, principal, instance_id)
            if found is None:
                error, status = _("No such instance."), 404
            else:
                output = await console.ec2.console_output(origin, principal, instance_id)
        except WireError as exc:
            error, status = first_refusal(console, request, exc, error, status)
        if found is not None:
            # Its Elastic IP, for the link to it: a caller not allowed DescribeAddresses still
            # reads the instance (its public address is DescribeInstances' own).
            with suppress(WireError):
                held = await addresses.describe_addresses(
                    console.ec2, origin, principal, instance_id=instance_id
                )
                elastic_ip = next(iter(held), None)
            detailed = found.monitoring == "enabled"
            charts = await instance_charts(console, request, session, instance_id, detailed)
    return console.render(
        request,
        "instances_detail.html",
        session=session,
        status=status,
        title=instance_id,
        instance=found,
        elastic_ip=elastic_ip,
        charts=charts,
        metrics_href=metrics_href(instance_id),
        output=output,
        error=error,
    )


instance = signed_in(_instance_page)


async def _switch_monitoring(ec2: Ec2Wire, request: Request, who: Principal, fields: Form) -> str:
    """Detailed monitoring on (``enabled=yes``) or off: EC2's MonitorInstances or
    UnmonitorInstances as the user; its refusal, the instance's page again with it."""
    instance_id = request.path_params["instance_id"]
    await switch(ec2, request.scope, who, instance_id, fields.get("enabled") == "yes")
    return f"{_INSTANCES_URL}/{quote(instance_id, safe='')}"


set_monitoring = action(_instance_page, _switch_monitoring)


def _change_state(operation: str) -> Handler:
    async def change(ec2: Ec2Wire, request: Request, who: Principal, fields: Form) -> str:
        instance_id = request.path_params["instance_id"]
        await ec2.change_state(request.scope, who, _OPERATION_ACTIONS[operation], instance_id)
        return _INSTANCES_URL

    return action(_instances_page, change)


start_instance = _change_state("start")
stop_instance = _change_state("stop")
reboot_instance = _change_state("reboot")
terminate_instance = _change_state("terminate")


# -- volumes ---------------------------------------------------------------------------------


async def _volumes_page(
    console: Console,
    request: Request,
    session: Session,
    *,
    token: str | None = None,
    typed: Typed | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    _ = console.catalogue(request).gettext
    shown: list[VolumeRow] = []
    zones: list[str] = []
    attachable: list[InstanceRow] = []
    next_token = None
    if console.ec2 is None:
        error, status = no_ec2(console, request)
    else:
        origin, principal = request.scope, session.principal
        try:
            shown, next_token = await console.ec2.describe_volumes(
                origin, principal, token=token, page_size=console.settings.console_page_size
            )
            zones = await console.ec2.availability_zones(origin, principal)
        except WireError as exc:
            error, status = first_refusal(console, request, exc, error, status)
        # Only suggestions for the attach field, which takes any id typed: AttachVolume's own
        # answer decides, so a caller who may not list instances may still attach.
        with suppress(WireError):
            attachable = await console.ec2.live_instances(origin, principal)
    return console.render(
        request,
        "volumes.html",
        session=session,
        status=status,
        title=_("Volumes"),
        volumes=shown,
        zones=zones,
        attachable=attachable,
        client_token=client_token(),
        next_url=f"{_VOLUMES_URL}?{urlencode({'token': next_token})}" if next_token else None,
        error=error,
    )


@signed_in
async def volumes(console: Console, request: Request, session: Session) -> Response:
    token = request.query_params.get("token")
    return await _volumes_page(console, request, session, token=token)


def _change_volume(operation: str) -> Handler:
    async def change(ec2: Ec2Wire, request: Request, who: Principal, fields: Form) -> str:
        origin = request.scope
        volume_id = request.path_params.get("volume_id", "")
        if operation == "create":
            await ec2.create_volume(
                origin, who,
                size_gib=fields.get("size", "").strip(), zone=fields.get("zone", ""),
                name=fields.get("name", "").strip(), client_token=fields.get("client_token", ""),
            )  # fmt: skip
        elif operation == "attach":
            instance_id = fields.get("instance_id", "").strip()
            device = fields.get("device", "").strip()
            await ec2.attach_volume(origin, who, volume_id, instance_id, device)
        elif operation == "detach":
            await ec2.detach_volume(origin, who, volume_id)
        else:
            await ec2.delete_volume(origin, who, volume_id)
        return _VOLUMES_URL

    return action(_volumes_page, change)


create_volume = _change_volume("create")
attach_volume = _change_volume("attach")
detach_volume = _change_volume("detach")
delete_volume = _change_volume("delete")


# -- key pairs -------------------------------------------------------------------------------


async def _key_pairs_page(
    console: Console,
    request: Request,
    session: Session,
    *,
    typed: Typed | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    _ = console.catalogue(request).gettext
    rows: list[KeyPairRow] = []
    if console.ec2 is None:
        error, status = no_ec2(console, request)
    else:
        try:
            rows = await console.ec2.describe_key_pairs(request.scope, session.principal)
        except WireError as exc:
            error, status = first_refusal(console, request, exc, error, status)
    return console.render(
        request,
        "key_pairs.html",
        session=session,
        status=status,
        title=_("Key pairs"),
        key_pairs=rows,
        key_types=_KEY_TYPES,
        error=error,
    )


key_pairs = signed_in(_key_pairs_page)


@posted()
async def create_key_pair(
    console: Console, request: Request, session: Session, fields: Form
) -> Response:
    """CreateKeyPair, answered with the private key: shown this once, kept nowhere."""
    if console.ec2 is None:
        return await _key_pairs_page(console, request, session)
    _ = console.catalogue(request).gettext
    try:
        created = await console.ec2.create_key_pair(
            request.scope,
            session.principal,
            fields.get("name", "").strip(),
            fields.get("key_type", "rsa"),
        )
    except WireError as exc:
        return await _key_pairs_page(
            console, request, session, error=console.error_text(request, exc), status=exc.status
        )
    return console.render(
        request,
        "key_pairs_created.html",
        session=session,
        title=_("Key pair created"),
        key_pair=created,
    )


def _change_key_pair(operation: str) -> Handler:
    async def change(ec2: Ec2Wire, request: Request, who: Principal, fields: Form) -> str:
        if operation == "import":
            name, public_key = fields.get("name", "").strip(), fields.get("public_key", "")
            await ec2.import_key_pair(request.scope, who, name, public_key)
        else:
            await ec2.delete_key_pair(request.scope, who, request.path_params["key_pair_id"])
        return _KEY_PAIRS_URL

    return action(_key_pairs_page, change)


import_key_pair = _change_key_pair("import")
delete_key_pair = _change_key_pair("delete")


ROUTES: Final[list[tuple[str, Any, list[str]]]] = [
    ("/instances", instances, ["GET"]),
    ("/instances/launch", launch_form, ["GET"]),
    ("/instances/launch", launch, ["POST"]),
    ("/instances/{instance_id}", instance, ["GET"]),
    ("/instances/{instance_id}/monitoring", set_monitoring, ["POST"]),
    ("/instances/{instance_id}/start", start_instance, ["POST"]),
    ("/instances/{instance_id}/stop", stop_instance, ["POST"]),
    ("/instances/{instance_id}/reboot", reboot_instance, ["POST"]),
    ("/instances/{instance_id}/terminate", terminate_instance, ["POST"]),
    ("/volumes", volumes, ["GET"]),
    ("/volumes", create_volume, ["POST"]),
    ("/volumes/{volume_id}/attach", attach_volume, ["POST"]),
    ("/volumes/{volume_id}/detach", detach_volume, ["POST"]),
    ("/volumes/{volume_id}/delete", delete_volume, ["POST"]),
    ("/key-pairs", key_pairs, ["GET"]),
    ("/key-pairs", create_key_pair, ["POST"]),
    ("/key-pairs/import", import_key_pair, ["POST"]),
    ("/key-pairs/{key_pair_id}/delete", delete_key_pair, ["POST"]),
]
