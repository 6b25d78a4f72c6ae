"""The Application Load Balancer forms' fields (decision 0216's console pages): an action as
a listener's and a rule's forms type it, and a rule's conditions, read into ``wire_elb_rules``'
choices. The forms only offer: ELBv2 checks every value and refuses in its own words.

An action's fields: ``action_type`` (forward, fixed-response, redirect), ``target_group_arn``;
``fixed_status``, ``fixed_content_type``, ``fixed_body``; ``redirect_protocol``,
``redirect_host``, ``redirect_port``, ``redirect_path``, ``redirect_query``,
``redirect_status``. A rule's conditions: one field each (``path_pattern``, ``host_header``,
``http_request_method``, ``query_string`` as ``key=value``, ``source_ip``, ``http_header``
with ``http_header_name``), its values separated by commas; an empty field is no condition.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from andromede.console.pages_ec2 import field
from andromede.console.wire_elb_rules import ActionChoice, ConditionChoice

__all__ = [
    "ACTION_KINDS",
    "ALB_LISTENER_GROUPS",
    "ALB_PROTOCOLS",
    "CONDITION_INPUTS",
    "CONTENT_TYPES",
    "REDIRECT_CODES",
    "action_choice",
    "condition_choices",
]

ALB_PROTOCOLS: Final = ("HTTP", "HTTPS")
# HTTPS target groups: re-encrypted to the targets since decision 0231.
ALB_LISTENER_GROUPS: Final = {"HTTP": ("HTTP", "HTTPS"), "HTTPS": ("HTTP", "HTTPS")}
ACTION_KINDS: Final = ("forward", "fixed-response", "redirect")
# ELBv2's content types of a fixed response, and a redirect's codes.
CONTENT_TYPES: Final = (
    "text/plain",
    "text/css",
    "text/html",
    "application/javascript",
    "application/json",
)
REDIRECT_CODES: Final = ("HTTP_301", "HTTP_302")
# A rule's condition fields as the form names them, and ELBv2's.
CONDITION_INPUTS: Final = {
    "path_pattern": "path-pattern",
    "host_header": "host-header",
    "http_request_method": "http-request-method",
    "query_string": "query-string",
    "source_ip": "source-ip",
    "http_header": "http-header",
}


def action_choice(f: Mapping[str, str]) -> ActionChoice:
    """The action the form chose (a form without ``action_type``, an NLB's: forward)."""
    kind = field(f, "action_type") or "forward"
    if kind == "fixed-response":
        return ActionChoice(
            kind,
            status_code=field(f, "fixed_status"),
            content_type=field(f, "fixed_content_type"),
            body=field(f, "fixed_body"),
        )
    if kind == "redirect":
        return ActionChoice(
            kind,
            status_code=field(f, "redirect_status"),
            protocol=field(f, "redirect_protocol"),
            host=field(f, "redirect_host"),
            port=field(f, "redirect_port"),
            path=field(f, "redirect_path"),
            query=field(f, "redirect_query"),
        )
    return ActionChoice(kind, target_group_arn=field(f, "target_group_arn"))


def condition_choices(f: Mapping[str, str]) -> list[ConditionChoice]:
    """The conditions typed, in the form's order; ELBv2 refuses a rule with none."""
    chosen = []
    for name, wire_field in CONDITION_INPUTS.items():
        values = tuple(v.strip() for v in field(f, name).split(",") if v.strip())
        if values:
            header = field(f, "http_header_name") if wire_field == "http-header" else ""
            chosen.append(ConditionChoice(wire_field, values, header))
    return chosen
