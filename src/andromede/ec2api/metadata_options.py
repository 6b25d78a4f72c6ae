"""EC2's instance metadata options on the wire (decision 0145): ModifyInstanceMetadataOptions,
and the ``metadataOptions`` structure DescribeInstances and RunInstances answer.

A change is recorded on the instance, and the metadata service reads the record at each
request: it holds from the next request on, so the options are answered ``applied`` (EC2
answers ``pending`` until its hosts have them, and Terraform waits for ``applied``).
"""

from __future__ import annotations

from andromede.compute.model import MetadataOptions
from andromede.ec2api.errors import Ec2Error
from andromede.ec2api.launch_parameters import metadata_changes
from andromede.ec2api.protocol import Action, Call
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


def _instance_arn(call: Call) -> list[str]:
    return [call.arn("instance", call.params.get("InstanceId") or "*")]


METADATA_OPTIONS_ACTIONS: dict[str, Action] = {
    "ModifyInstanceMetadataOptions": Action(
        modify_instance_metadata_options, mutating=True, resources=_instance_arn
    ),
}
