"""A log group's data protection policy in the console (decision 0211 served, 0111 shown): the
group's page shows the policy Logs keeps (its name, the data identifiers it audits and masks,
its custom expressions, where its findings go, and the document itself), and a form puts one —
managed identifiers ticked among those Logs serves (``andromede.dataidentifiers``' list, so the
form never offers one Logs would refuse), up to three custom expressions, an audit destination
log group of the account — or deletes it after a ticked box.

The form builds AWS's document shape (one ``Audit`` statement, one ``Deidentify`` statement
over the same identifiers) and Logs' own PutDataProtectionPolicy checks it as the signed-in
principal: its refusals are shown in its words, the form as typed. Nothing here decides what a
policy may hold beyond asking for at least one identifier.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from starlette.requests import Request

from andromede.console.handlers import FormFault, words
from andromede.console.wire_logs import LogsWire
from andromede.dataidentifiers import ARN_PREFIX, MANAGED_IDENTIFIERS

if TYPE_CHECKING:
    from andromede.console.app import Session

__all__ = [
    "CUSTOM_ROWS",
    "MANAGED",
    "MAX_FIELDS",
    "PolicyView",
    "delete",
    "document_from_form",
    "form_of",
    "policy_view",
    "put",
]

# The managed identifiers Logs serves, the form's boxes in a stable order.
MANAGED: Final = tuple(sorted(MANAGED_IDENTIFIERS))
CUSTOM_ROWS: Final = 3  # custom expression rows the form offers (AWS allows up to 10)
_VERSION: Final = "2021-06-01"  # the only policy document version AWS defines
_DEFAULT_NAME: Final = "data-protection-policy"
# The form's fields: the group, the policy's name, the destination, a box per identifier, two
# fields per custom row, the deletion's box and the CSRF token (and a little room).
MAX_FIELDS: Final = 8 + len(MANAGED) + 2 * CUSTOM_ROWS


@dataclass(frozen=True, slots=True)
class PolicyView:
    """A kept policy as the page shows it, read leniently (Logs checked it when it was put)."""

    document: str  # indented for reading
    name: str
    managed: tuple[str, ...]  # managed identifiers' names
    custom: tuple[tuple[str, str], ...]  # (name, expression)
    findings_group: str
    findings_bucket: str


def _audit_destination(statements: list[Any]) -> dict[str, Any]:
    for statement in statements:
        operation = statement.get("Operation") if isinstance(statement, dict) else None
        audit = operation.get("Audit") if isinstance(operation, dict) else None
        if isinstance(audit, dict) and isinstance(audit.get("FindingsDestination"), dict):
            found: dict[str, Any] = audit["FindingsDestination"]
            return found
    return {}


def policy_view(document: str) -> PolicyView:
    """The page's reading of a document Logs answered (its parts; the text whatever it is)."""
    try:
        parsed = json.loads(document)
    except ValueError:
        return PolicyView(document, "", (), (), "", "")
    if not isinstance(parsed, dict):
        return PolicyView(document, "", (), (), "", "")
    statements = parsed.get("Statement")
    statements = statements if isinstance(statements, list) else []
    identifiers: list[str] = []
    for statement in statements:
        listed = statement.get("DataIdentifier") if isinstance(statement, dict) else None
        for one in listed if isinstance(listed, list) else []:
            if isinstance(one, str) and one not in identifiers:
                identifiers.append(one)
    configuration = parsed.get("Configuration")
    customs = configuration.get("CustomDataIdentifier") if isinstance(configuration, dict) else None
    custom = tuple(
        (str(c.get("Name", "")), str(c.get("Regex", "")))
        for c in (customs if isinstance(customs, list) else [])
        if isinstance(c, dict)
    )
    destination = _audit_destination(statements)
    group = destination.get("CloudWatchLogs")
    bucket = destination.get("S3")
    return PolicyView(
        document=json.dumps(parsed, indent=2, ensure_ascii=False),
        name=str(parsed.get("Name", "")),
        managed=tuple(i.removeprefix(ARN_PREFIX) for i in identifiers if i.startswith(ARN_PREFIX)),
        custom=custom,
        findings_group=str(group.get("LogGroup", "")) if isinstance(group, dict) else "",
        findings_bucket=str(bucket.get("Bucket", "")) if isinstance(bucket, dict) else "",
    )


def form_of(view: PolicyView | None) -> dict[str, str]:
    """The put form's fields filled from the kept policy (the page's starting values)."""
    if view is None:
        return {"policy_name": _DEFAULT_NAME}
    fields = {"policy_name": view.name, "findings_group": view.findings_group}
    fields.update({f"managed_{name}": "yes" for name in view.managed})
    for row, (name, regex) in enumerate(view.custom[:CUSTOM_ROWS], start=1):
        fields[f"custom_name_{row}"], fields[f"custom_regex_{row}"] = name, regex
    return fields


def document_from_form(fields: Mapping[str, str], _: Callable[[str], str]) -> str:
    """The document AWS's console writes: one Audit statement (with the destination group
    when one is chosen) and one Deidentify statement over the same identifiers (``_``: the
    reader's gettext, for the form's own fault)."""
    managed = [f"{ARN_PREFIX}{name}" for name in MANAGED if fields.get(f"managed_{name}") == "yes"]
    custom = []
    for row in range(1, CUSTOM_ROWS + 1):
        name = fields.get(f"custom_name_{row}", "").strip()
        regex = fields.get(f"custom_regex_{row}", "")
        if name or regex.strip():
            custom.append({"Name": name, "Regex": regex})
    identifiers = [*managed, *(c["Name"] for c in custom)]
    if not identifiers:
        raise FormFault(_("Choose at least one data identifier."))
    group = fields.get("findings_group", "").strip()
    destination = {"CloudWatchLogs": {"LogGroup": group}} if group else {}
    document: dict[str, Any] = {
        "Name": fields.get("policy_name", "").strip() or _DEFAULT_NAME,
        "Description": "",
        "Version": _VERSION,
        "Statement": [
            {
                "Sid": "audit-policy",
                "DataIdentifier": identifiers,
                "Operation": {"Audit": {"FindingsDestination": destination}},
            },
            {
                "Sid": "redact-policy",
                "DataIdentifier": identifiers,
                "Operation": {"Deidentify": {"MaskConfig": {}}},
            },
        ],
    }
    if custom:
        document["Configuration"] = {"CustomDataIdentifier": custom}
    return json.dumps(document)


async def put(
    wire: LogsWire, request: Request, session: Session, name: str, fields: Mapping[str, str]
) -> None:
    """PutDataProtectionPolicy of the form's document on the group ``name``."""
    document = document_from_form(fields, words(request))
    await wire.put_data_protection_policy(request.scope, session.principal, name, document)


async def delete(
    wire: LogsWire, request: Request, session: Session, name: str, fields: Mapping[str, str]
) -> None:
    """DeleteDataProtectionPolicy, once its box is ticked."""
    if fields.get("confirm") != "yes":
        _ = words(request)
        raise FormFault(_("Tick the box to confirm the deletion."))
    await wire.delete_data_protection_policy(request.scope, session.principal, name)
