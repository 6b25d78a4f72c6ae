"""EC2 actions on a launched instance's settings: its IAM instance profile
(Associate/Disassociate/DescribeIamInstanceProfileAssociations), its security groups, volumes'
DeleteOnTermination, protection and shutdown behaviour (ModifyInstanceAttribute), and the
resolution of a profile RunInstances names.

Naming a profile hands its role's permissions to code in the instance, so, as on AWS, the
caller needs ``iam:PassRole`` on the role, beside the EC2 action itself.
"""

from __future__ import annotations

from typing import Final

from andromede.compute.instance_attributes import ProfileAssociation
from andromede.compute.model import InstanceProfileRef
from andromede.ec2api.errors import Ec2Error
from andromede.ec2api.filters import Filters, matches
from andromede.ec2api.protocol import Action, Call, Params
from andromede.ec2api.xml import write_return
from andromede.http.xml import XmlWriter
from andromede.iam.errors import NoSuchEntity
from andromede.iam.model import InstanceProfile
from andromede.iam.policy_context import iam_resource_tag_keys

__all__ = ["PROFILE_ACTIONS", "instance_profile"]

_MAX_RESULTS = 1000


async def instance_profile(
    call: Call, arn: str | None, name: str | None
) -> InstanceProfileRef | None:
    """The tenant's profile ``arn`` or ``name`` names (None when neither is given), once the
    caller is allowed ``iam:PassRole`` on its role."""
    if arn is None and name is None:
        return None
    found: InstanceProfile
    try:
        if arn is not None:
            found = await call.identity.get_instance_profile_by_arn(call.tenant_id, arn)
            if name is not None and name != found.name:
                raise Ec2Error(
                    "InvalidParameterCombination",
                    "The parameter iamInstanceProfile.name names another profile than the ARN",
                )
        else:
            found = await call.identity.get_instance_profile(call.tenant_id, name or "")
    except NoSuchEntity:
        which = f"arn ({arn[:256]})" if arn is not None else f"name ({(name or '')[:128]})"
        raise Ec2Error(
            "InvalidParameterValue",
            f"Value {which} for parameter iamInstanceProfile is invalid. "
            "Invalid IAM Instance Profile",
        ) from None
    for role in found.roles:
        # As AWS sets them: the service the role goes to, and the role's tags, so that a
        # policy can allow passing only roles of a label, or only to EC2 (decision 0069).
        keys = {"iam:PassedToService": "ec2.amazonaws.com", **iam_resource_tag_keys(role.tags)}
        await call.allow("iam:PassRole", [role.arn], keys)
    return InstanceProfileRef(found.arn, found.id)


def _write_association(xml: XmlWriter, association: ProfileAssociation, tag: str) -> None:
    xml.open(tag)
    xml.element("associationId", association.profile.association_id)
    xml.element("instanceId", association.instance_id)
    xml.open("iamInstanceProfile")
    xml.element("arn", association.profile.arn)
    xml.element("id", association.profile.profile_id)
    xml.close("iamInstanceProfile")
    xml.element("state", association.state)
    xml.close(tag)


async def associate_iam_instance_profile(call: Call) -> None:
    p = call.params
    instance_id = p.required("InstanceId")
    profile = await instance_profile(
        call, p.get("IamInstanceProfile.Arn"), p.get("IamInstanceProfile.Name")
    )
    if profile is None:
        raise Ec2Error("MissingParameter", "The request must contain IamInstanceProfile")
    association = await call.compute.associate_profile(call.tenant_id, instance_id, profile)
    _write_association(call.result, association, "iamInstanceProfileAssociation")


async def disassociate_iam_instance_profile(call: Call) -> None:
    association = await call.compute.disassociate_profile(
        call.tenant_id, call.params.required("AssociationId")
    )
    _write_association(call.result, association, "iamInstanceProfileAssociation")


_ASSOCIATION_FILTERS = {
    "instance-id": lambda a: [a.instance_id],
    "state": lambda a: [a.state],
}


async def describe_iam_instance_profile_associations(call: Call) -> None:
    p = call.params
    ids = p.values("AssociationId")
    max_results = p.integer("MaxResults", minimum=5, maximum=_MAX_RESULTS)
    filters: Filters[ProfileAssociation] = Filters(p.filters(), _ASSOCIATION_FILTERS.get)
    found = [
        a
        for a in await call.compute.profile_associations(call.tenant_id, ids)
        if matches(filters, a)
    ]
    found.sort(key=lambda a: a.profile.association_id)
    after = p.get("NextToken")
    if after is not None:
        found = [a for a in found if a.profile.association_id > after]
    next_token = None
    if max_results is not None and len(found) > max_results:
        found = found[:max_results]
        next_token = found[-1].profile.association_id
    xml = call.result
    xml.open("iamInstanceProfileAssociationSet")
    for association in found:
        _write_association(xml, association, "item")
    xml.close("iamInstanceProfileAssociationSet")
    xml.element("nextToken", next_token)


_MAPPING_CHANGE: Final = frozenset({"DeviceName", "Ebs.DeleteOnTermination"})
# The instance's options ModifyInstanceAttribute changes (decision 0145), by EC2's attribute
# name, as ``Attribute=…&Value=…`` or as ``DisableApiTermination.Value=…``.
_OPTIONS: Final = {
    "disableApiTermination": "DisableApiTermination",
    "disableApiStop": "DisableApiStop",
    "instanceInitiatedShutdownBehavior": "InstanceInitiatedShutdownBehavior",
}
_ONE_ATTRIBUTE = (
    "ModifyInstanceAttribute changes the security groups (GroupId.N), the volumes' "
    "DeleteOnTermination (BlockDeviceMapping.N), disableApiTermination, disableApiStop or "
    "instanceInitiatedShutdownBehavior, one of them per call"
)


def _option_asked(p: Params) -> tuple[str, str] | None:
    """The option a call changes and its value, in either of EC2's forms; None: none."""
    attribute = p.get("Attribute")
    if attribute in _OPTIONS and p.get("Value") is not None:
        return _OPTIONS[attribute], p.required("Value")
    given = [(name, p.get(f"{name}.Value")) for name in _OPTIONS.values()]
    asked = [(name, value) for name, value in given if value is not None]
    if len(asked) > 1:
        raise Ec2Error("InvalidParameterCombination", _ONE_ATTRIBUTE)
    return asked[0] if asked else None


async def _modify_option(call: Call, instance_id: str, name: str, value: str) -> None:
    if name == "InstanceInitiatedShutdownBehavior":
        await call.compute.set_instance_options(
            call.tenant_id, instance_id, shutdown_behavior=value
        )
        return
    flag = Params({name: value}).boolean(name, default=False)
    if name == "DisableApiTermination":
        await call.compute.set_instance_options(
            call.tenant_id, instance_id, disable_api_termination=flag
        )
    else:
        await call.compute.set_instance_options(call.tenant_id, instance_id, disable_api_stop=flag)


async def modify_instance_attribute(call: Call) -> None:
    """The security groups (GroupId.N), whether volumes go with the instance
    (BlockDeviceMapping.N.Ebs.DeleteOnTermination), termination and stop protection or the
    shutdown behaviour, one attribute per call as on EC2; the other attributes answer that
    they do not change here."""
    p = call.params
    instance_id = p.required("InstanceId")
    group_ids = p.values("GroupId")
    mappings = p.structs("BlockDeviceMapping")
    option = _option_asked(p)
    attribute = p.get("Attribute")
    known = {"Action", "Version", "InstanceId", "GroupId", "BlockDeviceMapping", "DryRun"}
    if option is not None:
        known |= {"Attribute", "Value", option[0]}
    others = {key.split(".", 1)[0] for key in p.names()} - known
    if (
        others
        or (
            attribute is not None and attribute not in ("groupSet", "blockDeviceMapping", *_OPTIONS)
        )
        or [bool(group_ids), bool(mappings), option is not None].count(True) != 1
    ):
        raise Ec2Error("UnsupportedOperation", _ONE_ATTRIBUTE)
    if option is not None:
        await _modify_option(call, instance_id, *option)
    elif group_ids:
        await call.compute.set_security_groups(call.tenant_id, instance_id, group_ids)
    else:
        changes = []
        for mapping in mappings:
            mapping.refuse_unhandled("ModifyInstanceAttribute BlockDeviceMapping", _MAPPING_CHANGE)
            changes.append(
                (
                    mapping.required("DeviceName"),
                    mapping.boolean("Ebs.DeleteOnTermination", default=True),
                )
            )
        await call.compute.set_delete_on_termination(call.tenant_id, instance_id, changes)
    write_return(call.result)


def _instance_arn(call: Call) -> list[str]:
    return [call.arn("instance", call.params.get("InstanceId") or "*")]


PROFILE_ACTIONS: dict[str, Action] = {
    "AssociateIamInstanceProfile": Action(
        associate_iam_instance_profile, mutating=True, resources=_instance_arn
    ),
    "DisassociateIamInstanceProfile": Action(disassociate_iam_instance_profile, mutating=True),
    "DescribeIamInstanceProfileAssociations": Action(
        describe_iam_instance_profile_associations, mutating=False
    ),
    "ModifyInstanceAttribute": Action(
        modify_instance_attribute, mutating=True, resources=_instance_arn
    ),
}
