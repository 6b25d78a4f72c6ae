"""EC2's instance metadata options on the wire (decision 0145): ModifyInstanceMetadataOptions,
the ``metadataOptions`` structure DescribeInstances and RunInstances answer, and the
account's defaults (Get/ModifyInstanceMetadataDefaults).

A change is recorded on the instance, and the metadata service reads the record at each
request: it holds from the next request on, so the options are answered ``applied`` (EC2
answers ``pending`` until its hosts have them, and Terraform waits for ``applied``).
"""

from __future__ import annotations

from typing import Final

from andromede.compute.model import MetadataOptions
from andromede.ec2api.errors import Ec2Error
from andromede.ec2api.launch_parameters import metadata_changes
from andromede.ec2api.protocol import Action, Call
from andromede.ec2api.xml import write_return
from andromede.http.xml import XmlWriter

__all__ = ["METADATA_OPTIONS_ACTIONS", "write_metadata_options"]


def write_metadata_options(xml: XmlWriter, tag: str, options: MetadataOptions) -> None:
    xml.open(tag)
    xml.element("state", "applied")
    xml.element("httpTokens", options.http_tokens)
    xml.element("httpPutResponseHopLimit", options.hop_limit)
    xml.element("httpEndpoint", options.http_endpoint)
    xml.element("httpProtocolIpv6", options.http_protocol_ipv6)
    xml.element("instanceMetadataTags", options.instance_metadata_tags)
    xml.close(tag)


async def modify_instance_metadata_options(call: Call) -> None:
    p = call.params
    instance_id = p.required("InstanceId")
    # The options are top-level parameters here (HttpTokens=…), not under MetadataOptions.
    changes = metadata_changes(p, "ModifyInstanceMetadataOptions", frozenset({"InstanceId"}))
    if not changes:
        raise Ec2Error(
            "MissingParameter",
            "ModifyInstanceMetadataOptions needs at least one of HttpTokens, "
            "HttpPutResponseHopLimit, HttpEndpoint, HttpProtocolIpv6, InstanceMetadataTags",
        )
    instance = await call.compute.set_metadata_options(call.tenant_id, instance_id, **changes)
    call.result.element("instanceId", instance.instance_id)
    write_metadata_options(call.result, "instanceMetadataOptions", instance.metadata_options)


_NO_PREFERENCE = "no-preference"
_DEFAULTS: Final = {
    "HttpTokens": "http_tokens",
    "HttpPutResponseHopLimit": "hop_limit",
    "HttpEndpoint": "http_endpoint",
    "InstanceMetadataTags": "instance_metadata_tags",
}


async def modify_instance_metadata_defaults(call: Call) -> None:
    """The account's defaults: each parameter given is set, ``no-preference`` (``-1`` for
    the hop limit) clears it. Enforcement (``HttpTokensEnforced``) is refused."""
    p = call.params
    p.refuse_unhandled("ModifyInstanceMetadataDefaults", frozenset(_DEFAULTS))
    changes: dict[str, str | int | None] = {}
    for member, attribute in _DEFAULTS.items():
        raw = p.get(member)
        if raw is None:
            continue
        if member == "HttpPutResponseHopLimit":
            hops = p.integer(member, minimum=-1, maximum=64)
            changes[attribute] = None if hops == -1 else hops
        else:
            changes[attribute] = None if raw == _NO_PREFERENCE else raw
    if not changes:
        raise Ec2Error(
            "MissingParameter",
            "ModifyInstanceMetadataDefaults needs at least one of HttpTokens, "
            "HttpPutResponseHopLimit, HttpEndpoint, InstanceMetadataTags",
        )
    await call.compute.set_metadata_defaults(call.tenant_id, **changes)
    write_return(call.result)


async def get_instance_metadata_defaults(call: Call) -> None:
    defaults = await call.compute.metadata_defaults(call.tenant_id)
    xml = call.result
    xml.open("accountLevel")
    xml.element("httpTokens", defaults.http_tokens)
    xml.element("httpPutResponseHopLimit", defaults.hop_limit)
    xml.element("httpEndpoint", defaults.http_endpoint)
    xml.element("instanceMetadataTags", defaults.instance_metadata_tags)
    xml.element("managedBy", "account")
    xml.close("accountLevel")


def _instance_arn(call: Call) -> list[str]:
    return [call.arn("instance", call.params.get("InstanceId") or "*")]


METADATA_OPTIONS_ACTIONS: dict[str, Action] = {
    "ModifyInstanceMetadataOptions": Action(
        modify_instance_metadata_options, mutating=True, resources=_instance_arn
    ),
    "ModifyInstanceMetadataDefaults": Action(modify_instance_metadata_defaults, mutating=True),
    "GetInstanceMetadataDefaults": Action(get_instance_metadata_defaults, mutating=False),
}
