"""A Firehose stream page's forms added by decision 0359, read and sent as UpdateDestination
of the version the page showed (``FirehoseWire.update_member``: Firehose's authorisation,
checks, audit and words answer each): the destination's processors (the Lambda processor and
its buffer, record de-aggregation, a delimiter appended, CloudWatch Logs decompression and
message extraction; sent whole, since Firehose replaces them whole, dynamic partitioning's
JQ query kept), an S3 destination's role, bucket and partitioning retry duration, and an HTTP
endpoint's destination (URL, name, access key or secret, common attributes, content
encoding, buffering, retry duration, role, backup bucket). Decision 0367: the Lambda
processor's own role (``p_lambda_role``, empty: the destination's), an S3 destination's source
record backup (``S3BackupMode`` ``Disabled`` or ``Enabled`` with ``S3BackupUpdate``'s bucket
and prefixes), an HTTP endpoint's backup mode (``FailedDataOnly`` or ``AllData``) and its
backup prefixes (``S3Update``). Decision 0388: the S3 backup's own buffering hints
(``backup_size_mb``, ``backup_interval_seconds``) in ``S3BackupUpdate`` or ``S3Update``.

An endpoint's access key is never shown nor put back into a form: Firehose replaces the
endpoint's URL and name with the key (its ``EndpointConfiguration`` whole), so a URL or name
changed without a key typed, a secret or "none" chosen is refused here before any call
rather than losing the key unseen.
"""

from __future__ import annotations

from contextlib import suppress
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote

from starlette.requests import Request

from andromede.console.handlers import Form, FormFault, words
from andromede.console.session import CONSOLE_PATH
from andromede.console.wire import WireError
from andromede.console.wire_firehose import FirehoseWire, backup_hints
from andromede.console.wire_firehose_processing import ProcessorsForm, processing_configuration

if TYPE_CHECKING:
    from andromede.console.app import Console, Session

__all__ = [
    "KEY_SOURCES",
    "function_choices",
    "processors_form",
    "update_delivery",
    "update_endpoint",
    "update_processors",
]

_BUCKET_ARN: Final = "arn:aws:s3:::"
_S3: Final = "ExtendedS3DestinationUpdate"
_HTTP: Final = "HttpEndpointDestinationUpdate"
KEY_SOURCES: Final = ("keep", "key", "secret", "none")  # the endpoint form's key choices
_MAX_ATTRIBUTES: Final = 50  # read from the text area at most (Firehose's own bound)
_FUNCTIONS_OFFERED: Final = 50  # one ListFunctions page: the processor's choices


async def function_choices(
    console: Console, request: Request, session: Session
) -> list[tuple[str, str]]:
    """The account's Lambda functions as (ARN, name), as Lambda lists them to the signed-in
    principal (none where it is not served or refuses): the processor's choices, Firehose
    decides (its role must be allowed to invoke the function)."""
    wire, account = console.functions, session.principal.tenant_id
    if wire is None or account is None:
        return []
    with suppress(WireError):
        page = await wire.functions(
            request.scope, session.principal, marker="", limit=_FUNCTIONS_OFFERED
        )
        region = console.settings.region
        return [(f"arn:aws:lambda:{region}:{account}:function:{f.name}", f.name) for f in page.rows]
    return []


def _url(request: Request, section: str) -> str:
    name = quote(str(request.path_params.get("name", "")), safe="")
    return f"{CONSOLE_PATH}/firehose/{name}?saved={section}#{section}"


def processors_form(fields: Form, *, query: str = "", newline: bool = False) -> ProcessorsForm:
    """The processors a form asks for (fields ``p_*``); ``query`` dynamic partitioning's JQ
    query to keep, ``newline`` a delimiter asked by the partitioning fields."""
    return ProcessorsForm(
        lambda_arn=fields.get("p_lambda", "").strip(),
        lambda_retries=fields.get("p_retries", ""),
        lambda_role=fields.get("p_lambda_role", ""),
        lambda_size_mb=fields.get("p_buffer_mb", ""),
        lambda_interval_seconds=fields.get("p_buffer_seconds", ""),
        deaggregation=fields.get("p_deaggregation", ""),
        deaggregation_delimiter=fields.get("p_deaggregation_delimiter", ""),
        append_delimiter=fields.get("p_append") == "yes" or newline,
        append_delimiter_text=fields.get("p_append_delimiter", ""),
        decompression=fields.get("p_decompress") == "yes",
        message_extraction=fields.get("p_extract") == "yes",
        query=query,
    )


def _version(fields: Form) -> dict[str, str]:
    return {"version": fields.get("version", ""),
            "destination_id": fields.get("destination_id", "")}  # fmt: skip


async def update_processors(
    wire: FirehoseWire, request: Request, session: Session, fields: Form
) -> str:
    """The destination's processors, all of them (none asked: removed)."""
    http = fields.get("http") == "yes"
    form = processors_form(fields, query="" if http else fields.get("p_query", "").strip())
    await wire.update_member(
        request.scope, session.principal, str(request.path_params.get("name", "")),
        member=_HTTP if http else _S3,
        fields={"ProcessingConfiguration": processing_configuration(form)}, **_version(fields),
    )  # fmt: skip
    return _url(request, "processors")


async def update_delivery(
    wire: FirehoseWire, request: Request, session: Session, fields: Form
) -> str:
    """An S3 destination's role and bucket, its source record backup (decision 0367), and
    its dynamic partitioning's retry duration when it has one (its on or off state sent as
    described: Firehose keeps the query)."""
    role = fields.get("role_arn", "").strip()
    sent: dict[str, Any] = {
        "RoleARN": role,
        "BucketARN": f"{_BUCKET_ARN}{fields.get('bucket', '').strip()}",
    } | _source_backup(fields, role)
    if fields.get("partitioned") == "yes":
        typed = fields.get("retry_seconds", "").strip()
        sent["DynamicPartitioningConfiguration"] = {
            "Enabled": fields.get("partitioning_enabled") == "yes",
            "RetryOptions": {"DurationInSeconds": int(typed) if typed.isdigit() else typed},
        }
    await wire.update_member(
        request.scope, session.principal, str(request.path_params.get("name", "")),
        member=_S3, fields=sent, **_version(fields),
    )  # fmt: skip
    return _url(request, "delivery")


def _source_backup(fields: Form, role: str) -> dict[str, Any]:
    """``S3BackupMode`` as chosen (as typed: Firehose checks the value), with
    ``S3BackupUpdate`` — the backup bucket as the destination's role, its prefixes, empty
    ones sent empty so that they are cleared — unless ``Disabled``; nothing when the form
    has no mode (Firehose keeps it)."""
    if "backup_mode" not in fields:
        return {}
    mode = fields["backup_mode"]
    if mode == "Disabled":
        return {"S3BackupMode": mode}
    backup = {
        "RoleARN": role,
        "BucketARN": f"{_BUCKET_ARN}{fields.get('backup_bucket', '').strip()}",
        "Prefix": fields.get("backup_prefix", ""),
        "ErrorOutputPrefix": fields.get("backup_error_prefix", ""),
    } | _own_hints(fields)
    return {"S3BackupMode": mode, "S3BackupUpdate": backup}


def _own_hints(fields: Form) -> dict[str, Any]:
    """The S3 backup's own ``BufferingHints`` when the form has them (decision 0388)."""
    if "backup_size_mb" not in fields:
        return {}
    return backup_hints(fields["backup_size_mb"], fields.get("backup_interval_seconds", ""))


def _attributes(text: str) -> list[dict[str, str]]:
    """``Name=Value`` lines (blank lines skipped; a line without ``=`` a name with an empty
    value, which Firehose takes)."""
    pairs = []
    for line in text.splitlines()[: _MAX_ATTRIBUTES + 1]:
        if line.strip():
            name, _, value = line.partition("=")
            pairs.append({"AttributeName": name.strip(), "AttributeValue": value.strip()})
    return pairs


def _number(text: str) -> int | str:
    stripped = text.strip()
    return int(stripped) if stripped.isdigit() else stripped


def _endpoint_fields(request: Request, fields: Form) -> dict[str, Any]:
    """``HttpEndpointDestinationUpdate``'s endpoint and key: the URL and name sent only when
    changed or with a new key, a secret enabled or disabled as chosen."""
    _ = words(request)
    source = fields.get("key_source", "keep")
    url, name = fields.get("url", "").strip(), fields.get("endpoint_name", "").strip()
    changed = url != fields.get("shown_url", "") or name != fields.get("shown_name", "")
    had_secret = fields.get("had_secret") == "yes"
    sent: dict[str, Any] = {}
    key = fields.get("access_key", "")
    if source == "key" and not key:
        raise FormFault(_("Type the endpoint's new access key, or keep the current one."))
    if source == "keep" and changed and not had_secret:
        raise FormFault(_("Firehose replaces the endpoint's URL and name with its access key: "
                          "type the key again, choose a secret, or choose no key."))  # fmt: skip
    if changed or source in ("key", "none"):
        endpoint = {"Url": url, **({"Name": name} if name else {})}
        sent["EndpointConfiguration"] = endpoint | ({"AccessKey": key} if source == "key" else {})
    if source == "secret":
        secret = fields.get("secret_arn", "")
        if not secret:
            raise FormFault(_("Choose the secret holding the endpoint's access key."))
        sent["SecretsManagerConfiguration"] = {"Enabled": True, "SecretARN": secret}
    elif source in ("key", "none") and had_secret:
        sent["SecretsManagerConfiguration"] = {"Enabled": False}
    return sent


async def update_endpoint(
    wire: FirehoseWire, request: Request, session: Session, fields: Form
) -> str:
    """An HTTP endpoint stream's destination (``HttpEndpointDestinationUpdate``)."""
    sent = _endpoint_fields(request, fields)
    role = fields.get("role_arn", "").strip()
    sent |= {
        "RequestConfiguration": {
            "ContentEncoding": fields.get("content_encoding", ""),
            "CommonAttributes": _attributes(fields.get("attributes", "")),
        },
        "BufferingHints": {
            "SizeInMBs": _number(fields.get("size_mb", "")),
            "IntervalInSeconds": _number(fields.get("interval_seconds", "")),
        },
        "RetryOptions": {"DurationInSeconds": _number(fields.get("retry_seconds", ""))},
        "RoleARN": role,
        "S3Update": {
            "RoleARN": role,
            "BucketARN": f"{_BUCKET_ARN}{fields.get('bucket', '').strip()}",
        },
    }
    # Decision 0367: the backup mode and prefixes, when the form has them (left out: kept).
    if "backup_mode" in fields:
        sent["S3BackupMode"] = fields["backup_mode"]
    for field, member in (("prefix", "Prefix"), ("error_prefix", "ErrorOutputPrefix")):
        if field in fields:
            sent["S3Update"][member] = fields[field]
    sent["S3Update"] |= _own_hints(fields)  # decision 0388
    await wire.update_member(
        request.scope, session.principal, str(request.path_params.get("name", "")),
        member=_HTTP, fields=sent, **_version(fields),
    )  # fmt: skip
    return _url(request, "endpoint")
