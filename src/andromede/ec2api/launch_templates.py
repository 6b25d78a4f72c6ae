"""EC2 launch templates (decision 0092): Create/Describe/Modify/DeleteLaunchTemplate,
Create/Describe/DeleteLaunchTemplateVersions and GetLaunchTemplateData; and the template a
RunInstances names, read before the call is authorised, since EC2 authorises RunInstances on
the template too (``launch-template/lt-…``, with the ``ec2:LaunchTemplate`` condition key).

A template's data is read, checked and written by :mod:`andromede.ec2api.launch_template_data`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

from andromede.compute.errors import ComputeError
from andromede.compute.launch_template import (
    DEFAULT,
    LATEST,
    LaunchTemplate,
    LaunchTemplateVersion,
)
from andromede.compute.launch_templates import TemplateRef
from andromede.compute.model import InstanceState
from andromede.ec2api.errors import Ec2Error
from andromede.ec2api.filters import Filters, matches, with_tags
from andromede.ec2api.launch_parameters import merged
from andromede.ec2api.launch_template_data import instance_parameters, template_data, write_data
from andromede.ec2api.protocol import Action, Call, Params, iso8601, page_after, page_token
from andromede.ec2api.xml import write_tags
from andromede.http.xml import XmlWriter
from andromede.iam.policy import ContextValue

__all__ = ["LAUNCH_TEMPLATE_ACTIONS", "launch_template_of", "launch_template_resources"]

_MAX_RESULTS = 200  # EC2's most for both Describe calls
_MAX_DELETED = 200  # versions one DeleteLaunchTemplateVersions may name
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
    parameters, warnings = await template_data(call, "CreateLaunchTemplate")
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
    parameters, warnings = await template_data(call, "CreateLaunchTemplateVersion")
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
    write_data(call.result, await instance_parameters(call, instance))


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
