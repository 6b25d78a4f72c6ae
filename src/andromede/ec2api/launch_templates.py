"""EC2 launch templates (decision 0092): Create/Describe/Modify/DeleteLaunchTemplate,
Create/Describe/DeleteLaunchTemplateVersions and GetLaunchTemplateData; and the template a
RunInstances names, read before the call is authorised, since EC2 authorises RunInstances on
the template too (``launch-template/lt-…``, with the ``ec2:LaunchTemplate`` condition key).

A template's data is checked at creation against what RunInstances here acts on
(:mod:`andromede.ec2api.launch_parameters`): a field of a feature not here is refused with
``UnsupportedOperation`` (decision 0060). What EC2 checks only at launch (the image, the key
pair, the groups, the instance type) is checked now too but, as EC2 does, only reported in the
answer's ``warning``: the template is made, and RunInstances refuses it later if it still
does not hold.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

from andromede.compute.errors import ComputeError, MissingParameter
from andromede.compute.launch_template import (
    DEFAULT,
    LATEST,
    LaunchParameters,
    LaunchTemplate,
    LaunchTemplateVersion,
)
from andromede.compute.launch_templates import TemplateRef
from andromede.compute.model import Instance, InstanceState, check_tags
from andromede.ec2api.errors import Ec2Error, to_ec2_error
from andromede.ec2api.filters import Filters, matches, with_tags
from andromede.ec2api.launch_parameters import (
    RUN_HARMLESS,
    TEMPLATE_HANDLED,
    launch_mappings,
    merged,
)
from andromede.ec2api.protocol import Action, Call, Params, iso8601, page_after, page_token
from andromede.ec2api.xml import write_tags
from andromede.http.xml import XmlWriter
from andromede.iam.policy import ContextValue

__all__ = ["LAUNCH_TEMPLATE_ACTIONS", "launch_template_of", "launch_template_resources"]

_MAX_RESULTS = 200  # EC2's most for both Describe calls
_MAX_DELETED = 200  # versions one DeleteLaunchTemplateVersions may name
_TAGGABLE_IN_DATA: Final = ("instance", "volume")  # what RunInstances here tags
Chosen = tuple[LaunchTemplate, LaunchTemplateVersion]


def _ref(p: Params) -> TemplateRef:
    return TemplateRef(p.get("LaunchTemplateId") or None, p.get("LaunchTemplateName") or None)


# -- authorisation ---------------------------------------------------------------------------


async def _named_template(call: Call) -> tuple[list[str], Mapping[str, ContextValue]]:
    """The ARN of the template a call names by id or name; ``launch-template/*`` when it names
    none or one that does not exist (the handler then says so, once the call is allowed)."""
    ref = _ref(call.params)
    if ref.template_id:
        return [call.arn("launch-template", ref.template_id)], {}
    try:
        template = await call.compute.launch_template(call.tenant_id, ref)
    except ComputeError:
        return [call.arn("launch-template")], {}
    return [call.arn("launch-template", template.template_id)], {}


async def launch_template_resources(call: Call) -> tuple[list[str], Mapping[str, ContextValue]]:
    """RunInstances' template (``LaunchTemplate.*``), read once here for the handler: its ARN,
    which the call must be allowed on, and ``ec2:LaunchTemplate`` for every resource."""
    spec = call.params.view("LaunchTemplate.")
    if not spec.names():
        return [], {}
    spec.refuse_unhandled(
        "RunInstances LaunchTemplate",
        frozenset({"LaunchTemplateId", "LaunchTemplateName", "Version"}),
    )
    chosen = await call.compute.launch_template_version(
        call.tenant_id, _ref(spec), spec.get("Version")
    )
    call.context["launch_template"] = chosen
    arn = call.arn("launch-template", chosen[0].template_id)
    return [arn], {"ec2:LaunchTemplate": arn}


def launch_template_of(call: Call) -> Chosen | None:
    """The template and version a RunInstances names (read by its authorisation)."""
    chosen: Chosen | None = call.context.get("launch_template")
    return chosen


# -- the data --------------------------------------------------------------------------------


async def _template_data(call: Call, action: str) -> tuple[LaunchParameters, list[Ec2Error]]:
    """The ``LaunchTemplateData`` of a request as RunInstances parameters, checked; and what
    a launch would refuse today, as warnings."""
    data = call.params.view("LaunchTemplateData.")
    if not data.names():
        raise MissingParameter("The request must contain the parameter LaunchTemplateData")
    _check_data(call, data, f"{action} LaunchTemplateData")
    return tuple((name, data.get(name) or "") for name in data.names()), await _warnings(call, data)


def _check_data(call: Call, data: Params, action: str) -> None:
    data.refuse_unhandled(action, TEMPLATE_HANDLED, RUN_HARMLESS)
    launch_mappings(data, action)
    data.boolean("EbsOptimized", default=False)
    for spec in data.structs("TagSpecification"):
        kind = spec.required("ResourceType")
        if kind not in _TAGGABLE_IN_DATA:
            raise Ec2Error(
                "UnsupportedOperation",
                f"{action}: tags for '{kind[:64]}' are not supported here yet; "
                "tag instances and volumes",
            )
        check_tags(spec.tags())
    user_data = data.get("UserData")
    if user_data is not None:
        try:
            decoded = base64.b64decode(user_data, validate=True)
        except (binascii.Error, ValueError):
            raise Ec2Error(
                "InvalidParameterValue", "Invalid BASE64 encoding of user data"
            ) from None
        if len(decoded) > call.compute.limits.max_user_data_size:
            raise Ec2Error(
                "InvalidParameterValue",
                f"User data is limited to {call.compute.limits.max_user_data_size} bytes",
            )


async def _warnings(call: Call, data: Params) -> list[Ec2Error]:
    tenant, compute = call.tenant_id, call.compute
    found: list[Ec2Error] = []

    async def check(work: Any) -> None:
        try:
            await work
        except ComputeError as exc:
            wire = to_ec2_error(exc)
            if wire is not None:
                found.append(wire)

    async def instance_type(name: str) -> None:
        compute.instance_type(name)

    if image_id := data.get("ImageId"):
        await check(compute.describe_images(tenant, [image_id]))
    if name := data.get("InstanceType"):
        await check(instance_type(name))
    if key_name := data.get("KeyName"):
        await check(compute.describe_key_pairs(tenant, [key_name], []))
    group_ids, group_names = data.values("SecurityGroupId"), data.values("SecurityGroup")
    if group_ids or group_names:
        await check(compute.describe_security_groups(tenant, group_ids, group_names))
    return found


_SCALARS: Final = {
    "ImageId": "imageId",
    "InstanceType": "instanceType",
    "KeyName": "keyName",
    "UserData": "userData",
    "EbsOptimized": "ebsOptimized",
    "DisableApiTermination": "disableApiTermination",
    "DisableApiStop": "disableApiStop",
    "InstanceInitiatedShutdownBehavior": "instanceInitiatedShutdownBehavior",
}
_STRUCTS: Final = {
    "IamInstanceProfile": ("iamInstanceProfile", {"Arn": "arn", "Name": "name"}),
    "Placement": ("placement", {"AvailabilityZone": "availabilityZone"}),
    "Monitoring": ("monitoring", {"Enabled": "enabled"}),
    "CreditSpecification": ("creditSpecification", {"CpuCredits": "cpuCredits"}),
    "HibernationOptions": ("hibernationOptions", {"Configured": "configured"}),
    "MetadataOptions": (
        "metadataOptions",
        {"HttpTokens": "httpTokens", "HttpEndpoint": "httpEndpoint"},
    ),
}
_EBS: Final = {
    "Ebs.Encrypted": "encrypted",
    "Ebs.DeleteOnTermination": "deleteOnTermination",
    "Ebs.KmsKeyId": "kmsKeyId",
    "Ebs.SnapshotId": "snapshotId",
    "Ebs.VolumeSize": "volumeSize",
    "Ebs.VolumeType": "volumeType",
}
_BOOLEANS: Final = frozenset(
    {
        "EbsOptimized", "DisableApiTermination", "DisableApiStop", "Enabled", "Configured",
        "Ebs.Encrypted", "Ebs.DeleteOnTermination",
    }
)  # fmt: skip


def _value(name: str, value: str) -> str:
    return value.lower() if name.rsplit(".", 1)[-1] in _BOOLEANS or name in _BOOLEANS else value


def write_data(xml: XmlWriter, parameters: LaunchParameters) -> None:
    """A version's parameters as EC2's ``launchTemplateData``."""
    p = Params(dict(parameters))
    xml.open("launchTemplateData")
    for name, tag in _SCALARS.items():
        if (value := p.get(name)) is not None:
            xml.element(tag, _value(name, value))
    for prefix, (tag, members) in _STRUCTS.items():
        present = [(m, p.get(f"{prefix}.{m}")) for m in members]
        if any(value is not None for _, value in present):
            xml.open(tag)
            if prefix == "MetadataOptions":
                xml.element("state", "applied")
            for member, value in present:
                if value is not None:
                    xml.element(members[member], _value(member, value))
            xml.close(tag)
    mappings = p.structs("BlockDeviceMapping")
    if mappings:
        xml.open("blockDeviceMappingSet")
        for mapping in mappings:
            xml.open("item")
            xml.element("deviceName", mapping.get("DeviceName"))
            ebs = [(tag, mapping.get(name), name) for name, tag in _EBS.items()]
            if any(value is not None for _, value, _ in ebs):
                xml.open("ebs")
                for tag, value, name in ebs:
                    if value is not None:
                        xml.element(tag, _value(name, value))
                xml.close("ebs")
            xml.close("item")
        xml.close("blockDeviceMappingSet")
    for name, tag in (
        ("SecurityGroupId", "securityGroupIdSet"),
        ("SecurityGroup", "securityGroupSet"),
    ):
        values = p.values(name)
        if values:
            xml.open(tag)
            for value in values:
                xml.element("item", value)
            xml.close(tag)
    specs = p.structs("TagSpecification")
    if specs:
        xml.open("tagSpecificationSet")
        for spec in specs:
            xml.open("item")
            xml.element("resourceType", spec.get("ResourceType"))
            write_tags(xml, spec.tags())
            xml.close("item")
        xml.close("tagSpecificationSet")
    xml.close("launchTemplateData")


# -- serialisation ---------------------------------------------------------------------------


def _write_template(xml: XmlWriter, tag: str, template: LaunchTemplate) -> None:
    xml.open(tag)
    xml.element("launchTemplateId", template.template_id)
    xml.element("launchTemplateName", template.name)
    xml.element("createTime", iso8601(template.created_at))
    xml.element("createdBy", template.created_by)
    xml.element("defaultVersionNumber", template.default_version)
    xml.element("latestVersionNumber", template.latest_version)
    if template.tags:
        write_tags(xml, template.tags)
    xml.close(tag)


def _write_version(
    xml: XmlWriter, tag: str, template: LaunchTemplate, version: LaunchTemplateVersion
) -> None:
    xml.open(tag)
    xml.element("launchTemplateId", template.template_id)
    xml.element("launchTemplateName", template.name)
    xml.element("versionNumber", version.number)
    if version.description:
        xml.element("versionDescription", version.description)
    xml.element("createTime", iso8601(version.created_at))
    xml.element("createdBy", version.created_by)
    xml.element("defaultVersion", version.number == template.default_version)
    write_data(xml, version.parameters)
    xml.close(tag)


def _write_warnings(xml: XmlWriter, warnings: Sequence[Ec2Error]) -> None:
    if not warnings:
        return
    xml.open("warning")
    xml.open("errorSet")
    for warning in warnings:
        xml.open("item")
        xml.element("code", warning.code)
        xml.element("message", warning.message)
        xml.close("item")
    xml.close("errorSet")
    xml.close("warning")


# -- actions ---------------------------------------------------------------------------------


def _template_tags(call: Call) -> tuple[tuple[str, str], ...]:
    tags: list[tuple[str, str]] = []
    for spec in call.params.structs("TagSpecification"):
        kind = spec.required("ResourceType")
        if kind != "launch-template":
            raise Ec2Error(
                "InvalidParameterValue",
                f"'{kind[:64]}' is not a valid taggable resource type for this operation.",
            )
        tags.extend(spec.tags())
    return tuple(tags)


_CREATE_HANDLED: Final = frozenset(
    {"LaunchTemplateName", "VersionDescription", "LaunchTemplateData", "TagSpecification",
     "ClientToken"}
)  # fmt: skip


async def create_launch_template(call: Call) -> None:
    p = call.params
    p.refuse_unhandled("CreateLaunchTemplate", _CREATE_HANDLED)
    name = p.required("LaunchTemplateName")
    tags = _template_tags(call)
    parameters, warnings = await _template_data(call, "CreateLaunchTemplate")
    template, _ = await call.compute.create_launch_template(
        call.tenant_id,
        name=name,
        parameters=parameters,
        created_by=call.principal.arn,
        description=p.get("VersionDescription") or "",
        tags=tags,
        client_token=p.get("ClientToken"),
    )
    call.context["resources"] = [call.arn("launch-template", template.template_id)]
    _write_template(call.result, "launchTemplate", template)
    _write_warnings(call.result, warnings)


_VERSION_HANDLED: Final = frozenset(
    {"LaunchTemplateId", "LaunchTemplateName", "SourceVersion", "VersionDescription",
     "LaunchTemplateData", "ClientToken"}
)  # fmt: skip


async def create_launch_template_version(call: Call) -> None:
    p = call.params
    # ResolveAlias=false: no image here is named by a Systems Manager parameter anyway.
    p.refuse_unhandled(
        "CreateLaunchTemplateVersion", _VERSION_HANDLED, {"ResolveAlias": frozenset({"false"})}
    )
    parameters, warnings = await _template_data(call, "CreateLaunchTemplateVersion")
    source = p.get("SourceVersion")
    if source is not None:
        template, base = await call.compute.launch_template_version(call.tenant_id, _ref(p), source)
        parameters = tuple(merged(base.parameters, dict(parameters), merge_lists=False).items())
    else:
        template = await call.compute.launch_template(call.tenant_id, _ref(p))
    template, version = await call.compute.create_launch_template_version(
        call.tenant_id,
        template.template_id,
        parameters=parameters,
        created_by=call.principal.arn,
        description=p.get("VersionDescription") or "",
        client_token=p.get("ClientToken"),
    )
    _write_version(call.result, "launchTemplateVersion", template, version)
    _write_warnings(call.result, warnings)


_TEMPLATE_FILTERS: dict[str, Callable[[object], list[str]]] = {
    "launch-template-name": lambda t: [t.name] if isinstance(t, LaunchTemplate) else [],
    "create-time": lambda t: [iso8601(t.created_at)] if isinstance(t, LaunchTemplate) else [],
}


def _page(
    call: Call, records: list[Any], key: Callable[[Any], str]
) -> tuple[list[Any], str | None]:
    p = call.params
    max_results = p.integer("MaxResults", minimum=1, maximum=_MAX_RESULTS)
    after = page_after(p.get("NextToken"))
    if after is not None:
        records = [r for r in records if key(r) > after]
    if max_results is not None and len(records) > max_results:
        records = records[:max_results]
        return records, page_token(key(records[-1]))
    return records, None


async def describe_launch_templates(call: Call) -> None:
    p = call.params
    filters = Filters(p.filters(), with_tags(_TEMPLATE_FILTERS))
    ids, names = p.values("LaunchTemplateId"), p.values("LaunchTemplateName")
    if (ids or names) and p.get("MaxResults") is not None:
        raise Ec2Error(
            "InvalidParameterCombination",
            "The parameter MaxResults cannot be used with LaunchTemplateIds or LaunchTemplateNames",
        )
    templates = await call.compute.describe_launch_templates(call.tenant_id, ids, names)
    chosen, next_token = _page(
        call, [t for t in templates if matches(filters, t)], lambda t: t.template_id
    )
    call.result.open("launchTemplates")
    for template in chosen:
        _write_template(call.result, "item", template)
    call.result.close("launchTemplates")
    call.result.element("nextToken", next_token)


Listed = tuple[LaunchTemplate, LaunchTemplateVersion]

_VERSION_FILTERS: dict[str, Callable[[Listed], list[str]]] = {
    "create-time": lambda v: [iso8601(v[1].created_at)],
    "ebs-optimized": lambda v: [(v[1].get("EbsOptimized") or "false").lower()],
    "iam-instance-profile": lambda v: [
        x for x in (v[1].get("IamInstanceProfile.Arn"), v[1].get("IamInstanceProfile.Name")) if x
    ],
    "image-id": lambda v: [x] if (x := v[1].get("ImageId")) else [],
    "instance-type": lambda v: [x] if (x := v[1].get("InstanceType")) else [],
    "is-default-version": lambda v: [str(v[1].number == v[0].default_version).lower()],
    "kernel-id": lambda v: [],  # no kernel or RAM disk is named apart from an image here
    "ram-disk-id": lambda v: [],
}


def _version_key(listed: Listed) -> str:
    return f"{listed[0].template_id}/{listed[1].number:020d}"


async def describe_launch_template_versions(call: Call) -> None:
    p = call.params
    p.refuse_unhandled(
        "DescribeLaunchTemplateVersions",
        frozenset(
            {"LaunchTemplateId", "LaunchTemplateName", "LaunchTemplateVersion", "MinVersion",
             "MaxVersion", "NextToken", "MaxResults", "Filter"}
        ),
        {"ResolveAlias": frozenset({"false"}), "IncludeManagedResources": frozenset({"false"})},
    )  # fmt: skip
    filters = Filters(p.filters(), _VERSION_FILTERS.get)
    asked = p.values("LaunchTemplateVersion")
    low = p.integer("MinVersion", minimum=1, maximum=2**62)
    high = p.integer("MaxVersion", minimum=1, maximum=2**62)
    ref = _ref(p)
    listed: list[Listed] = []
    if ref.template_id or ref.name:
        template, versions = await call.compute.launch_template_versions(call.tenant_id, ref)
        existing = {v.number for v in versions}
        wanted = {template.resolve(v, existing) for v in asked}
        for version in versions:
            if wanted and version.number not in wanted:
                continue
            if (low and version.number < low) or (high and version.number > high):
                continue
            listed.append((template, version))
    else:
        # Without a template: the $Latest and/or $Default versions of every one of them.
        if not asked or any(v not in (LATEST, DEFAULT) for v in asked):
            raise Ec2Error(
                "InvalidParameterCombination",
                "Without a launch template ID or name, only the versions $Latest and $Default "
                "may be described",
            )
        for template in await call.compute.describe_launch_templates(call.tenant_id, [], []):
            _, versions = await call.compute.launch_template_versions(
                call.tenant_id, TemplateRef(template.template_id)
            )
            numbers = {template.resolve(v) for v in asked}
            listed.extend((template, v) for v in versions if v.number in numbers)
    listed.sort(key=_version_key)
    chosen, next_token = _page(call, [v for v in listed if matches(filters, v)], _version_key)
    call.result.open("launchTemplateVersionSet")
    for template, version in chosen:
        _write_version(call.result, "item", template, version)
    call.result.close("launchTemplateVersionSet")
    call.result.element("nextToken", next_token)


async def modify_launch_template(call: Call) -> None:
    p = call.params
    p.refuse_unhandled(
        "ModifyLaunchTemplate",
        frozenset({"LaunchTemplateId", "LaunchTemplateName", "SetDefaultVersion", "ClientToken"}),
    )
    template = await call.compute.modify_launch_template(
        call.tenant_id, _ref(p), p.get("SetDefaultVersion")
    )
    _write_template(call.result, "launchTemplate", template)


async def delete_launch_template(call: Call) -> None:
    template = await call.compute.delete_launch_template(call.tenant_id, _ref(call.params))
    _write_template(call.result, "launchTemplate", template)


async def delete_launch_template_versions(call: Call) -> None:
    p = call.params
    asked = p.values("LaunchTemplateVersion")
    if not asked:
        raise Ec2Error(
            "MissingParameter", "The request must contain the parameter LaunchTemplateVersion"
        )
    if len(asked) > _MAX_DELETED:
        raise Ec2Error(
            "InvalidParameterValue",
            f"At most {_MAX_DELETED} launch template versions may be deleted in one request",
        )
    template, deleted, failed = await call.compute.delete_launch_template_versions(
        call.tenant_id, _ref(p), asked
    )
    xml = call.result
    xml.open("successfullyDeletedLaunchTemplateVersionSet")
    for number in deleted:
        xml.open("item")
        xml.element("launchTemplateId", template.template_id)
        xml.element("launchTemplateName", template.name)
        xml.element("versionNumber", number)
        xml.close("item")
    xml.close("successfullyDeletedLaunchTemplateVersionSet")
    xml.open("unsuccessfullyDeletedLaunchTemplateVersionSet")
    for failure in failed:
        xml.open("item")
        xml.element("launchTemplateId", template.template_id)
        xml.element("launchTemplateName", template.name)
        if failure.version.isdigit():
            xml.element("versionNumber", failure.version)
        xml.open("responseError")
        xml.element("code", failure.code)
        xml.element("message", failure.message)
        xml.close("responseError")
        xml.close("item")
    xml.close("unsuccessfullyDeletedLaunchTemplateVersionSet")


async def get_launch_template_data(call: Call) -> None:
    """What a template needs to launch the instance again: its image, type, key, user data,
    groups, profile, tags and volumes, in the terms a template keeps."""
    instance_id = call.params.required("InstanceId")
    [instance] = await call.compute.describe_instances(call.tenant_id, [instance_id])
    if instance.state is InstanceState.TERMINATED:
        raise Ec2Error("IncorrectInstanceState", f"The instance '{instance_id}' is terminated")
    write_data(call.result, await _instance_parameters(call, instance))


async def _instance_parameters(call: Call, instance: Instance) -> LaunchParameters:
    found: list[tuple[str, str]] = [
        ("ImageId", instance.image_id),
        ("InstanceType", instance.instance_type),
    ]
    if instance.key_name:
        found.append(("KeyName", instance.key_name))
    if instance.user_data:
        found.append(("UserData", base64.b64encode(instance.user_data).decode()))
    found.extend(
        (f"SecurityGroupId.{n}", group_id)
        for n, group_id in enumerate(instance.security_group_ids, start=1)
    )
    if instance.iam_instance_profile is not None:
        found.append(("IamInstanceProfile.Arn", instance.iam_instance_profile.arn))
    found.append(("Placement.AvailabilityZone", instance.availability_zone))
    found.extend(
        [
            ("MetadataOptions.HttpTokens", "required"),
            ("MetadataOptions.HttpEndpoint", "enabled"),
            ("DisableApiTermination", "false"),
            ("DisableApiStop", "false"),
            ("InstanceInitiatedShutdownBehavior", "stop"),
        ]
    )
    attached = sorted(
        (
            (v.attachment, v)
            for v in await call.compute.describe_volumes(call.tenant_id, [])
            if v.attachment is not None and v.attachment.instance_id == instance.instance_id
        ),
        key=lambda pair: pair[0].device,
    )
    for n, (attachment, volume) in enumerate(attached, start=1):
        prefix = f"BlockDeviceMapping.{n}."
        found.append((prefix + "DeviceName", attachment.device))
        found.append((prefix + "Ebs.VolumeSize", str(volume.size_gib)))
        found.append((prefix + "Ebs.VolumeType", "gp3"))
        found.append((prefix + "Ebs.Encrypted", "true"))
        found.append(
            (prefix + "Ebs.DeleteOnTermination", str(attachment.delete_on_termination).lower())
        )
        if volume.kms_key_arn:
            found.append((prefix + "Ebs.KmsKeyId", volume.kms_key_arn))
    if instance.tags:
        found.append(("TagSpecification.1.ResourceType", "instance"))
        for n, (key, value) in enumerate(instance.tags, start=1):
            found.append((f"TagSpecification.1.Tag.{n}.Key", key))
            found.append((f"TagSpecification.1.Tag.{n}.Value", value))
    return tuple(found)


def _no_resources(call: Call) -> list[str]:
    return []


LAUNCH_TEMPLATE_ACTIONS: dict[str, Action] = {
    "CreateLaunchTemplate": Action(
        create_launch_template, mutating=True, resources=lambda c: [c.arn("launch-template")]
    ),
    "CreateLaunchTemplateVersion": Action(
        create_launch_template_version,
        mutating=True,
        resources=_no_resources,
        conditions=_named_template,
    ),
    "DescribeLaunchTemplates": Action(describe_launch_templates, mutating=False),
    "DescribeLaunchTemplateVersions": Action(describe_launch_template_versions, mutating=False),
    "ModifyLaunchTemplate": Action(
        modify_launch_template, mutating=True, resources=_no_resources, conditions=_named_template
    ),
    "DeleteLaunchTemplate": Action(
        delete_launch_template, mutating=True, resources=_no_resources, conditions=_named_template
    ),
    "DeleteLaunchTemplateVersions": Action(
        delete_launch_template_versions,
        mutating=True,
        resources=_no_resources,
        conditions=_named_template,
    ),
    "GetLaunchTemplateData": Action(
        get_launch_template_data,
        mutating=False,
        resources=lambda c: [c.arn("instance", c.params.get("InstanceId") or "*")],
    ),
}
