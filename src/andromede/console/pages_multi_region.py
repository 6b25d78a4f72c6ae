"""The account's S3 Multi-Region Access Points (decisions 0385, 0391, 0401): the list and the
create form (a name, one bucket a Region, the Block Public Access switches, all on unless
unticked as on AWS's console), one page per Multi-Region Access Point (its alias, ARN, Block
Public Access, Regions' buckets and traffic dials, policy and whether it is public), the
dials edited (each Region 100, active, or 0, passive), the policy edited and the deletion.

Create, Delete and PutMultiRegionAccessPointPolicy are asynchronous: the page they lead to
carries the request token S3 Control answered (``?operation=``) and shows that operation as
DescribeMultiRegionAccessPointOperation answers it, as AWS's console shows a request's status
after each; S3 Control lists no operations to show more.

Every read and change is S3 Control's own call as the signed-in principal
(``wire_multi_region``), so IAM decides and S3 Control audits and refuses as for boto3 (two
buckets in one Region, every Region passive: S3 Control's InvalidRequest, shown).
"""

from __future__ import annotations

import json
from contextlib import suppress
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response

from andromede.console.handlers import FormFault, Typed, action, first_refusal, signed_in, words
from andromede.console.pages_ec2 import field
from andromede.console.session import CONSOLE_PATH
from andromede.console.wire import WireError
from andromede.console.wire_multi_region import (
    MultiRegionPoint,
    PointOperation,
    PointRoute,
    create_point,
    delete_point,
    describe_operation,
    get_point,
    list_points,
    point_policy,
    point_policy_public,
    point_routes,
    put_point_policy,
    submit_dials,
)
from andromede.console.wire_s3control import SWITCHES, S3ControlWire

if TYPE_CHECKING:
    from andromede.console.app import Console, Session

__all__ = ["ROUTES"]

_URL: Final = f"{CONSOLE_PATH}/multi-region-access-points"
_MAX_BUCKETS: Final = 17  # S3 Control's limit of Regions a Multi-Region Access Point spans
# DescribeMultiRegionAccessPointOperation's bound on a request token ARN (``arn:.+``, 1 to
# 1024 characters): an ``operation`` past it, or not an ARN, is not one and is not sent.
_MAX_TOKEN: Final = 1024


def _labels(request: Request) -> list[tuple[str, str]]:
    """The four Block Public Access switches with their words (the account page's)."""
    _ = words(request)
    labels = {
        "BlockPublicAcls": _("Block new public ACLs"),
        "IgnorePublicAcls": _("Ignore every public ACL"),
        "BlockPublicPolicy": _("Block new public bucket policies"),
        "RestrictPublicBuckets": _("Restrict buckets with a public policy to their account"),
    }
    return [(name, labels[name]) for name in SWITCHES]


async def _operation(
    console: Console, request: Request, session: Session
) -> tuple[PointOperation | None, str | None]:
    """The asynchronous operation the page was led to (``?operation=``, the token the
    console's call got), as S3 Control describes it to the reader, or its refusal."""
    token = request.query_params.get("operation", "")
    if console.s3control is None or not token.startswith("arn:") or len(token) > _MAX_TOKEN:
        return None, None
    try:
        found = await describe_operation(console.s3control, request.scope, session.principal, token)
    except WireError as exc:
        return None, console.error_text(request, exc)
    return found, None


def _with_operation(url: str, token: str) -> str:
    return f"{url}?operation={quote(token, safe='')}" if token else url


def _pretty(policy: str) -> str:
    """The policy's JSON indented for editing; as S3 Control keeps it if it will not parse."""
    try:
        return json.dumps(json.loads(policy), indent=2, ensure_ascii=False)
    except ValueError:
        return policy


async def _list_page(
    console: Console,
    request: Request,
    session: Session,
    *,
    typed: Typed | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    _ = console.catalogue(request).gettext
    points: list[MultiRegionPoint] = []
    buckets: list[tuple[str, str]] = []
    if console.s3control is None:
        error, status = _("This server serves no S3 Control."), 404
    else:
        try:
            points = await list_points(console.s3control, request.scope, session.principal)
        except WireError as exc:
            error, status = first_refusal(console, request, exc, error, status)
        with suppress(WireError):  # the create form's choices only: S3 reads as the user
            listed = await console.s3.list_buckets(request.scope, session.principal)
            buckets = sorted((b.name, b.region) for b in listed)
    operation, operation_error = await _operation(console, request, session)
    return console.render(
        request,
        "multi_region_access_points.html",
        session=session,
        status=status,
        title=_("Multi-Region Access Points"),
        points=points,
        buckets=buckets,
        typed=(typed or {}).get("create", {}),
        switches=_labels(request),
        operation=operation,
        operation_error=operation_error,
        error=error,
    )


async def _point_page(
    console: Console,
    request: Request,
    session: Session,
    *,
    typed: Typed | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    _ = console.catalogue(request).gettext
    name = request.path_params["name"]
    point: MultiRegionPoint | None = None
    routes: list[PointRoute] = []
    policy = ""
    public: bool | None = None
    arn = ""
    wire = console.s3control
    if wire is None:
        error, status = _("This server serves no S3 Control."), 404
    else:
        try:
            point = await get_point(wire, request.scope, session.principal, name)
            arn = f"arn:aws:s3::{session.principal.tenant_id}:accesspoint/{point.alias}"
            routes = await point_routes(wire, request.scope, session.principal, point.alias)
            policy = await point_policy(wire, request.scope, session.principal, name)
            public = await point_policy_public(wire, request.scope, session.principal, name)
        except WireError as exc:
            error, status = first_refusal(console, request, exc, error, status)
    operation, operation_error = await _operation(console, request, session)
    return console.render(
        request,
        "multi_region_access_point.html",
        session=session,
        status=status,
        title=_("Multi-Region Access Point {name}").format(name=name),
        name=name,
        point=point,
        arn=arn,
        routes=routes,
        policy=policy,
        policy_text=(typed or {}).get("policy", {}).get("policy", _pretty(policy)),
        public=public,
        switches=_labels(request),
        operation=operation,
        operation_error=operation_error,
        error=error,
    )


def _s3control(console: Console) -> S3ControlWire | None:
    return console.s3control


async def _create(
    wire: S3ControlWire, request: Request, session: Session, fields: dict[str, str]
) -> str:
    name = field(fields, "name")
    chosen = sorted(v for k, v in fields.items() if k.startswith("bucket_") and v)
    if not chosen:
        raise FormFault(words(request)("Choose at least one bucket."))
    block = {switch: fields.get(switch) == "yes" for switch in SWITCHES}
    token = await create_point(wire, request.scope, session.principal, name, chosen, block)
    return _with_operation(f"{_URL}/{name}", token)


async def _put_policy(
    wire: S3ControlWire, request: Request, session: Session, fields: dict[str, str]
) -> str:
    name = request.path_params["name"]
    token = await put_point_policy(
        wire, request.scope, session.principal, name, fields.get("policy", "")
    )
    return _with_operation(f"{_URL}/{name}", token)


async def _dials(
    wire: S3ControlWire, request: Request, session: Session, fields: dict[str, str]
) -> str:
    name = request.path_params["name"]
    dials: dict[str, int] = {}
    for key, value in fields.items():
        if key.startswith("dial_"):
            if value not in ("0", "100"):
                raise FormFault(words(request)("A traffic dial is 0 (passive) or 100 (active)."))
            dials[key.removeprefix("dial_")] = int(value)
    point = await get_point(wire, request.scope, session.principal, name)
    await submit_dials(wire, request.scope, session.principal, point.alias, dials)
    return f"{_URL}/{name}"


async def _delete(
    wire: S3ControlWire, request: Request, session: Session, fields: dict[str, str]
) -> str:
    token = await delete_point(wire, request.scope, session.principal, request.path_params["name"])
    return _with_operation(_URL, token)


ROUTES: Final[list[tuple[str, Any, list[str]]]] = [
    ("/multi-region-access-points", signed_in(_list_page), ["GET"]),
    (
        "/multi-region-access-points",
        action(
            _list_page,
            _create,
            wire=_s3control,
            form="create",
            max_fields=_MAX_BUCKETS + len(SWITCHES) + 4,
        ),
        ["POST"],
    ),
    ("/multi-region-access-points/{name}", signed_in(_point_page), ["GET"]),
    (
        "/multi-region-access-points/{name}/routes",
        action(_point_page, _dials, wire=_s3control, max_fields=_MAX_BUCKETS + 4),
        ["POST"],
    ),
    (
        "/multi-region-access-points/{name}/policy",
        action(_point_page, _put_policy, wire=_s3control, form="policy"),
        ["POST"],
    ),
    (
        "/multi-region-access-points/{name}/delete",
        action(_point_page, _delete, wire=_s3control, confirmed=True),
        ["POST"],
    ),
]
