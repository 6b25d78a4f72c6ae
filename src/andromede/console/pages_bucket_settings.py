"""A bucket's settings page, ``/console/buckets/{bucket}/settings``: versioning, default
encryption, the bucket policy, tags, Requester Pays (decision 0133), Object Lock, lifecycle
and event notification rules (naming the account's topics, ``pages_topics``), S3 Inventory's
configurations (decision 0154, CSV only, ``wire_inventory``), each read and changed by S3's
own calls as the signed-in principal (``wire_bucket.BucketSettings``); CORS and replication
shown read-only; and whether the bucket's data reads are logged (decision
0109), which is the management API's setting, not S3's: decided and recorded as that API
decides and records it.

Each section is a small form posting to ``…/settings/<section>``: a 303 back to the section
when S3 accepts the change; otherwise the page again, with S3's refusal (its code, S3's
status) and what the user typed still in the form. The console decides nothing S3 decides. It
only reads its own forms: a number of days that is no number is a 400 here, a number S3 does
not take is S3's error. And it will not turn Object Lock on, which can never be undone, unless
the user asked for exactly that.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Generic, TypeVar
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from andromede.audit.model import Outcome
from andromede.console.handlers import (
    Form,
    FormFault,
    Handler,
    fault_or_refusal,
    posted,
    signed_in,
)
from andromede.console.session import CONSOLE_PATH
from andromede.console.wire import WireError
from andromede.console.wire_bucket import BucketSettings, NewLifecycleRule, NewNotificationRule
from andromede.console.wire_inventory import (
    FORMATS,
    FREQUENCIES,
    OPTIONAL_FIELDS,
    VERSIONS,
    NewInventory,
)
from andromede.console.wire_s3control import AccessPointRow
from andromede.iam.tenant_actions import Action, bucket_arn
from andromede.storage.errors import NoSuchBucket
from andromede.storage.model import Bucket
from andromede.storage.notification import SUPPORTED_EVENTS

if TYPE_CHECKING:
    from andromede.console.app import Console, Session

__all__ = ["ROUTES"]

_T = TypeVar("_T")
Gettext = Callable[[str], str]
_Change = Callable[[BucketSettings, Mapping[str, str], Gettext], Awaitable[None]]
# Days and years as a form sends them; past 12 digits no retention or rule makes sense, and
# S3 refuses what it does not take.
_WHOLE: Final = re.compile(r"[0-9]{1,12}")
# The event types a notification rule's form offers: each S3 takes here, wildcards first.
_FAMILIES: Final = ("ObjectCreated", "ObjectRemoved", "ObjectTagging", "ObjectAcl", "Lifecycle")
_NOTIFICATION_EVENTS: Final = tuple(
    sorted(
        SUPPORTED_EVENTS,
        key=lambda name: (
            next(i for i, f in enumerate(_FAMILIES) if name.startswith(f"s3:{f}")),
            not name.endswith("*"),
            name,
        ),
    )
)


@dataclass(frozen=True, slots=True)
class _Shown(Generic[_T]):
    """One section's setting as S3 answered it, or S3's refusal to tell it."""

    value: _T | None
    error: str | None = None


def _settings_url(bucket: str, section: str = "") -> str:
    anchor = f"#{section}" if section else ""
    return f"{CONSOLE_PATH}/buckets/{quote(bucket, safe='')}/settings{anchor}"


async def _read(call: Awaitable[_T]) -> _T | WireError:
    try:
        return await call
    except WireError as exc:
        return exc


def _pretty(policy: str) -> str:
    """The policy's JSON indented for reading; as S3 keeps it if it will not parse here."""
    try:
        return json.dumps(json.loads(policy), indent=2, ensure_ascii=False)
    except (ValueError, RecursionError):
        return policy


async def _settings_page(
    console: Console,
    request: Request,
    session: Session,
    bucket: str,
    *,
    error: str | None = None,
    status: int = 200,
    typed: Mapping[str, str] | None = None,
) -> Response:
    _ = console.catalogue(request).gettext
    settings = BucketSettings(console.s3, request.scope, session.principal, bucket)
    async with asyncio.TaskGroup() as group:
        versioning = group.create_task(_read(settings.versioning()))
        encryption = group.create_task(_read(settings.encryption()))
        policy = group.create_task(_read(settings.policy()))
        tags = group.create_task(_read(settings.tags()))
        request_payment = group.create_task(_read(settings.request_payment()))
        object_lock = group.create_task(_read(settings.object_lock()))
        lifecycle = group.create_task(_read(settings.lifecycle()))
        cors = group.create_task(_read(settings.cors()))
        replication = group.create_task(_read(settings.replication()))
        notification = group.create_task(_read(settings.notification()))
        inventory = group.create_task(_read(settings.inventory.configurations()))
        topics = group.create_task(_topic_choices(console, request, session))
        points = group.create_task(_access_points(console, request, session, bucket))
    reads = [
        t.result()
        for t in (
            versioning,
            encryption,
            policy,
            tags,
            request_payment,
            object_lock,
            lifecycle,
            cors,
            replication,
            notification,
            inventory,
        )
    ]
    refusals = [read for read in reads if isinstance(read, WireError)]
    # S3 told nothing (another tenant's bucket, no such bucket, no permission at all): its
    # refusal is the page, and no section is drawn.
    refused = len(refusals) == len(reads)
    if refused and error is None:
        error, status = console.error_text(request, refusals[0]), refusals[0].status

    def shown(read: _T | WireError) -> _Shown[_T]:
        if isinstance(read, WireError):
            return _Shown(None, console.error_text(request, read))
        return _Shown(read)

    policy_text = policy.result()
    data_events = None if refused else await _data_events(console, request, session, bucket)
    return console.render(
        request,
        "bucket_settings.html",
        session=session,
        status=status,
        title=_("Settings of {bucket}").format(bucket=bucket),
        bucket=bucket,
        bucket_url=f"{CONSOLE_PATH}/buckets/{quote(bucket, safe='')}",
        settings_url=_settings_url(bucket),
        refused=refused,
        versioning=shown(versioning.result()),
        encryption=shown(encryption.result()),
        policy=shown(policy_text),
        policy_pretty=_pretty(policy_text) if isinstance(policy_text, str) else "",
        tags=shown(tags.result()),
        request_payment=shown(request_payment.result()),
        object_lock=shown(object_lock.result()),
        lifecycle=shown(lifecycle.result()),
        cors=shown(cors.result()),
        replication=shown(replication.result()),
        notification=shown(notification.result()),
        topic_arns=topics.result(),
        notification_events=_NOTIFICATION_EVENTS,
        inventory=shown(inventory.result()),
        inventory_fields=OPTIONAL_FIELDS,
        inventory_frequencies=FREQUENCIES,
        inventory_versions=VERSIONS,
        inventory_formats=FORMATS,
        data_events=data_events,
        access_points=points.result(),
        typed=typed or {},
        error=error,
    )


@signed_in
async def bucket_settings(console: Console, request: Request, session: Session) -> Response:
    return await _settings_page(console, request, session, request.path_params["bucket"])


async def _access_points(
    console: Console, request: Request, session: Session, bucket: str
) -> _Shown[list[AccessPointRow]] | None:
    """The account's access points on the bucket (decision 0157), as S3 Control lists them to
    the signed-in user; None: a console built without S3 Control."""
    if console.s3control is None:
        return None
    read = await _read(console.s3control.access_points(request.scope, session.principal, bucket))
    if isinstance(read, WireError):
        return _Shown(None, console.error_text(request, read))
    return _Shown(read)


async def _topic_choices(console: Console, request: Request, session: Session) -> list[str]:
    """The caller's topics' ARNs, the notification form's choices; none where SNS is not
    served or refuses to list them (S3 decides what a rule may name, whatever is offered)."""
    if console.sns is None:
        return []
    try:
        return await console.sns.topic_arns(request.scope, session.principal)
    except WireError:
        return []


def _form(section: str, change: _Change, *, max_fields: int = 16) -> Handler:
    """One section's form: S3's call made, then back to the section; or the page with S3's
    refusal (or the form's fault) and the fields as the user typed them."""

    @posted(max_fields=max_fields)
    async def handler(
        console: Console, request: Request, session: Session, fields: Form
    ) -> Response:
        bucket = request.path_params["bucket"]
        settings = BucketSettings(console.s3, request.scope, session.principal, bucket)
        try:
            await change(settings, fields, console.catalogue(request).gettext)
        except (WireError, FormFault) as exc:
            text, status = fault_or_refusal(console, request, exc)
        else:
            return RedirectResponse(_settings_url(bucket, section), status_code=303)
        return await _settings_page(
            console, request, session, bucket, error=text, status=status, typed=fields
        )

    return handler


def _whole(fields: Mapping[str, str], name: str, _: Gettext) -> int | None:
    """The field as a number of days or years; None when left empty."""
    text = fields.get(name, "").strip()
    if not text:
        return None
    if not _WHOLE.fullmatch(text):
        raise FormFault(_("Enter a whole number of days or years, such as 30."))
    return int(text)


# -- the changes, each S3's own call ------------------------------------------------------------
async def _put_bucket_versioning(
    settings: BucketSettings, fields: Mapping[str, str], _: Gettext
) -> None:
    await settings.put_versioning(fields.get("versioning_status", ""))


async def _put_bucket_encryption(
    settings: BucketSettings, fields: Mapping[str, str], _: Gettext
) -> None:
    await settings.put_encryption(
        fields.get("sse_algorithm", ""),
        fields.get("kms_key_id", "").strip(),
        bucket_key=fields.get("bucket_key") == "true",
    )


async def _delete_bucket_encryption(
    settings: BucketSettings, fields: Mapping[str, str], _: Gettext
) -> None:
    await settings.delete_encryption()


async def _put_bucket_policy(
    settings: BucketSettings, fields: Mapping[str, str], _: Gettext
) -> None:
    await settings.put_policy(fields.get("policy", ""))


async def _delete_bucket_policy(
    settings: BucketSettings, fields: Mapping[str, str], _: Gettext
) -> None:
    await settings.delete_policy()


async def _put_bucket_tag(settings: BucketSettings, fields: Mapping[str, str], _: Gettext) -> None:
    """The tag added, or its value replaced where the key is there already."""
    key, value = fields.get("tag_key", ""), fields.get("tag_value", "")
    tags = await settings.tags()
    replaced = [(k, value if k == key else v) for k, v in tags]
    if all(k != key for k, _v in tags):
        replaced.append((key, value))
    await settings.put_tags(replaced)


async def _delete_bucket_tag(
    settings: BucketSettings, fields: Mapping[str, str], _: Gettext
) -> None:
    key = fields.get("tag_key", "")
    tags = await settings.tags()
    kept = [(k, v) for k, v in tags if k != key]
    if len(kept) != len(tags):  # a tag gone already (another page's doing) needs no call
        await settings.put_tags(kept)


async def _put_request_payment(
    settings: BucketSettings, fields: Mapping[str, str], _: Gettext
) -> None:
    await settings.put_request_payment(fields.get("payer", ""))


async def _locked(settings: BucketSettings, _: Gettext) -> None:
    """A retention change is no request to turn Object Lock on, which S3 would do in the same
    call for a versioned bucket and which can never be undone: refused unless it is on."""
    if not (await settings.object_lock()).enabled:
        raise FormFault(_("Object Lock is not enabled on this bucket."), status=409)


async def _put_default_retention(
    settings: BucketSettings, fields: Mapping[str, str], _: Gettext
) -> None:
    period = _whole(fields, "lock_period", _)
    if period is None:
        raise FormFault(_("Enter a whole number of days or years, such as 30."))
    await _locked(settings, _)
    mode = fields.get("lock_mode", "")
    if fields.get("lock_unit") == "Years":
        await settings.put_object_lock(mode, years=period)
    else:
        await settings.put_object_lock(mode, days=period)


async def _clear_default_retention(
    settings: BucketSettings, fields: Mapping[str, str], _: Gettext
) -> None:
    await _locked(settings, _)
    await settings.put_object_lock()


async def _enable_object_lock(
    settings: BucketSettings, fields: Mapping[str, str], _: Gettext
) -> None:
    if fields.get("confirm") != "yes":
        raise FormFault(_("Tick the box to confirm: Object Lock can never be turned off."))
    # Put again on a bucket that has it, the configuration would lose its default retention.
    if not (await settings.object_lock()).enabled:
        await settings.put_object_lock()


async def _add_lifecycle_rule(
    settings: BucketSettings, fields: Mapping[str, str], _: Gettext
) -> None:
    rule = NewLifecycleRule(
        rule_id=fields.get("rule_id", "").strip(),
        prefix=fields.get("rule_prefix", ""),
        expiration_days=_whole(fields, "expiration_days", _),
        noncurrent_days=_whole(fields, "noncurrent_days", _),
        abort_days=_whole(fields, "abort_days", _),
    )
    await settings.add_lifecycle_rule(rule)


async def _delete_lifecycle_rule(
    settings: BucketSettings, fields: Mapping[str, str], _: Gettext
) -> None:
    await settings.remove_lifecycle_rule(fields.get("rule_id", ""))


async def _add_notification_rule(
    settings: BucketSettings, fields: Mapping[str, str], _: Gettext
) -> None:
    """One ``TopicConfiguration`` added: the form's ticked event types (a box per type, named
    after it), its topic and filters; S3 checks the rest and answers in its words."""
    events = tuple(e for e in _NOTIFICATION_EVENTS if fields.get(e) == "yes")
    if not events:
        raise FormFault(_("Tick at least one event type."))
    rule = NewNotificationRule(
        rule_id=fields.get("notification_id", "").strip(),
        topic_arn=fields.get("topic_arn", "").strip(),
        events=events,
        prefix=fields.get("notification_prefix", ""),
        suffix=fields.get("notification_suffix", ""),
    )
    await settings.add_notification_rule(rule)


async def _delete_notification_rule(
    settings: BucketSettings, fields: Mapping[str, str], _: Gettext
) -> None:
    await settings.remove_notification_rule(fields.get("notification_id", ""))


async def _put_eventbridge(settings: BucketSettings, fields: Mapping[str, str], _: Gettext) -> None:
    """AWS's console's "Send notifications to Amazon EventBridge for all events in this
    bucket" switch: the rules are left as they are."""
    state = fields.get("eventbridge", "")
    if state not in ("on", "off"):
        raise FormFault(_("Choose On or Off."))
    await settings.put_eventbridge(on=state == "on")


# -- S3 Inventory (decision 0154) ----------------------------------------------------------------
async def _put_inventory(settings: BucketSettings, fields: Mapping[str, str], _: Gettext) -> None:
    """One configuration put (its id's replaced), in the format chosen (CSV, ORC, Parquet): the
    form's ticked optional fields (a box per field, named ``field_<name>``); S3 checks the id,
    the destination and the rest."""
    await settings.inventory.put(
        NewInventory(
            config_id=fields.get("inventory_id", "").strip(),
            enabled=fields.get("inventory_enabled") == "yes",
            destination_bucket=fields.get("inventory_bucket", "").strip(),
            destination_prefix=fields.get("inventory_prefix", "").strip(),
            frequency=fields.get("inventory_frequency", ""),
            versions=fields.get("inventory_versions", ""),
            filter_prefix=fields.get("inventory_filter", ""),
            fields=tuple(f for f in OPTIONAL_FIELDS if fields.get(f"field_{f}") == "yes"),
            file_format=fields.get("inventory_format", "CSV"),
        )
    )


async def _delete_inventory(
    settings: BucketSettings, fields: Mapping[str, str], _: Gettext
) -> None:
    await settings.inventory.delete(fields.get("inventory_id", ""))


# -- data events: the management API's setting, not S3's (decision 0109) -----------------------
async def _own_bucket(console: Console, session: Session, bucket: str) -> Bucket | None:
    """The bucket if it is the caller's tenant's; None otherwise, so that another tenant's
    setting is neither shown nor changed (the API answers 404 alike)."""
    if console.buckets is None or session.principal.tenant_id is None:
        return None
    try:
        found = await console.buckets.get_bucket(bucket)
    except NoSuchBucket:
        return None
    return found if found.tenant_id == session.principal.tenant_id else None


async def _data_events(
    console: Console, request: Request, session: Session, bucket: str
) -> _Shown[bool] | None:
    """Whether the bucket's data reads are logged, as ``andromede:GetBucketDataEvents`` lets
    the caller see it (asked silently, as the menu asks: the page is no request for it); None
    where the section has nothing to show."""
    found = await _own_bucket(console, session, bucket)
    if found is None:
        return None
    account = found.tenant_id
    action = Action.GET_BUCKET_DATA_EVENTS
    allowed, _reason = await console.decide(
        request, session, action, bucket_arn(bucket), account=account
    )
    if not allowed:
        _ = console.catalogue(request).gettext
        text = _("Your policies do not allow {action} on {resource}.")
        return _Shown(None, text.format(action=action.value, resource=bucket_arn(bucket)))
    return _Shown(found.data_reads_logged)


@posted()
async def put_data_events(
    console: Console, request: Request, session: Session, fields: Form
) -> Response:
    """Turn the logging of the bucket's data reads on or off, decided and recorded as the
    management API's ``PUT …/data-events`` is (the change is itself an event)."""
    bucket = request.path_params["bucket"]
    account = session.principal.tenant_id or "-"
    refused = await console.authorise(
        request, session, (Action.PUT_BUCKET_DATA_EVENTS,), bucket_arn(bucket), account=account
    )
    if refused is not None:
        return refused
    found = await _own_bucket(console, session, bucket)
    _ = console.catalogue(request).gettext
    if found is None or console.buckets is None:
        return await _settings_page(
            console, request, session, bucket, error=_("No such bucket."), status=404
        )
    read = fields.get("read") == "true"
    try:
        await console.buckets.set_bucket_data_reads_logged(found.name, read)
    except NoSuchBucket:  # deleted meanwhile
        return await _settings_page(
            console, request, session, bucket, error=_("No such bucket."), status=404
        )
    console.audit.record(
        request_id=console.request_id(request),
        tenant_id=found.tenant_id,
        principal=session.principal.arn,
        action=Action.PUT_BUCKET_DATA_EVENTS.value,
        resource=bucket_arn(found.name),
        outcome=Outcome.SUCCESS,
        details={"read": "true" if read else "false"},
    )
    return RedirectResponse(_settings_url(bucket, "data-events"), status_code=303)


_BUCKET: Final = "/buckets/{bucket}/settings"

ROUTES: Final[list[tuple[str, Any, list[str]]]] = [
    (_BUCKET, bucket_settings, ["GET"]),
    (f"{_BUCKET}/versioning", _form("versioning", _put_bucket_versioning), ["POST"]),
    (f"{_BUCKET}/encryption", _form("encryption", _put_bucket_encryption), ["POST"]),
    (f"{_BUCKET}/encryption/delete", _form("encryption", _delete_bucket_encryption), ["POST"]),
    (f"{_BUCKET}/policy", _form("policy", _put_bucket_policy), ["POST"]),
    (f"{_BUCKET}/policy/delete", _form("policy", _delete_bucket_policy), ["POST"]),
    (f"{_BUCKET}/tags", _form("tags", _put_bucket_tag), ["POST"]),
    (f"{_BUCKET}/tags/delete", _form("tags", _delete_bucket_tag), ["POST"]),
    (f"{_BUCKET}/request-payment", _form("request-payment", _put_request_payment), ["POST"]),
    (f"{_BUCKET}/object-lock", _form("object-lock", _put_default_retention), ["POST"]),
    (f"{_BUCKET}/object-lock/clear", _form("object-lock", _clear_default_retention), ["POST"]),
    (f"{_BUCKET}/object-lock/enable", _form("object-lock", _enable_object_lock), ["POST"]),
    (f"{_BUCKET}/lifecycle", _form("lifecycle", _add_lifecycle_rule), ["POST"]),
    (f"{_BUCKET}/lifecycle/delete", _form("lifecycle", _delete_lifecycle_rule), ["POST"]),
    (
        f"{_BUCKET}/notification",
        _form("notification", _add_notification_rule, max_fields=8 + len(_NOTIFICATION_EVENTS)),
        ["POST"],
    ),
    (f"{_BUCKET}/notification/delete", _form("notification", _delete_notification_rule), ["POST"]),
    (f"{_BUCKET}/notification/eventbridge", _form("notification", _put_eventbridge), ["POST"]),
    (
        f"{_BUCKET}/inventory",
        _form("inventory", _put_inventory, max_fields=10 + len(OPTIONAL_FIELDS)),
        ["POST"],
    ),
    (f"{_BUCKET}/inventory/delete", _form("inventory", _delete_inventory), ["POST"]),
    (f"{_BUCKET}/data-events", put_data_events, ["POST"]),
]
