"""EC2 ModifyVolume and DescribeVolumesModifications (docs/decisions/0088-modify-volume.md).

Only ``Size`` is acted on. The volume's own type (gp3) and multi-attach off are taken, since they
change nothing; another type, IOPS and throughput are refused with ``UnsupportedOperation``
naming the parameter (decision 0060), never accepted and dropped."""

from __future__ import annotations

from collections.abc import Callable

from andromede.compute.model import VolumeModification
from andromede.compute.volumes import MAX_VOLUME_GIB
from andromede.ec2api.errors import Ec2Error
from andromede.ec2api.filters import Filters, matches
from andromede.ec2api.protocol import Action, Call, arn_of, iso8601, page_after, page_token
from andromede.http.xml import XmlWriter

__all__ = ["MODIFICATION_ACTIONS"]

_MAX_RESULTS = 500
_NOTHING_ASKED = (
    "Invalid input: Must specify at least one of size, type, iops, throughput or multi-attach."
)


def _write_modification(xml: XmlWriter, volume_id: str, modification: VolumeModification) -> None:
    # No IOPS or throughput figures: nothing here provisions or caps them (DescribeVolumes gives
    # none either), so none is claimed.
    xml.element("volumeId", volume_id)
    xml.element("modificationState", modification.state.value)
    if modification.status_message:
        xml.element("statusMessage", modification.status_message)
    xml.element("targetSize", modification.target_size_gib)
    xml.element("targetVolumeType", modification.volume_type)
    xml.element("targetMultiAttachEnabled", False)
    xml.element("originalSize", modification.original_size_gib)
    xml.element("originalVolumeType", modification.volume_type)
    xml.element("originalMultiAttachEnabled", False)
    xml.element("progress", modification.progress)
    xml.element("startTime", iso8601(modification.started_at))
    if modification.ended_at is not None:
        xml.element("endTime", iso8601(modification.ended_at))


async def modify_volume(call: Call) -> None:
    p = call.params
    p.refuse_unhandled(
        "ModifyVolume",
        frozenset({"VolumeId", "Size"}),
        {"VolumeType": frozenset({"gp3"}), "MultiAttachEnabled": frozenset({"false"})},
    )
    volume_id = p.required("VolumeId")
    size = p.integer("Size", minimum=1, maximum=MAX_VOLUME_GIB)
    if size is None:
        if p.get("VolumeType") is None and p.get("MultiAttachEnabled") is None:
            raise Ec2Error("InvalidParameterValue", _NOTHING_ASKED)
        raise Ec2Error(
            "InvalidParameterValue",
            "Every volume here is gp3 without multi-attach already: nothing to modify",
        )
    modification = await call.compute.modify_volume(call.tenant_id, volume_id, size_gib=size)
    call.result.open("volumeModification")
    _write_modification(call.result, volume_id, modification)
    call.result.close("volumeModification")


# A volume's id and its last modification.
Modified = tuple[str, VolumeModification]

_FILTERS: dict[str, Callable[[Modified], list[str]]] = {
    "volume-id": lambda m: [m[0]],
    "modification-state": lambda m: [m[1].state.value],
    "target-size": lambda m: [str(m[1].target_size_gib)],
    "original-size": lambda m: [str(m[1].original_size_gib)],
    "target-volume-type": lambda m: [m[1].volume_type],
    "original-volume-type": lambda m: [m[1].volume_type],
    "start-time": lambda m: [iso8601(m[1].started_at)],
    "targetMultiAttachEnabled": lambda m: ["false"],
    "originalMultiAttachEnabled": lambda m: ["false"],
    # Named by EC2; no volume here has such a figure, so none matches.
    "target-iops": lambda m: [],
    "original-iops": lambda m: [],
    "target-throughput": lambda m: [],
    "original-throughput": lambda m: [],
}


async def describe_volumes_modifications(call: Call) -> None:
    p = call.params
    filters = Filters(p.filters(), _FILTERS.get)
    max_results = p.integer("MaxResults", minimum=1, maximum=_MAX_RESULTS)
    modified = await call.compute.describe_volumes_modifications(
        call.tenant_id, p.values("VolumeId")
    )
    # In volume id order, which the pages follow.
    chosen = sorted((m for m in modified if matches(filters, m)), key=lambda m: m[0])
    after = page_after(p.get("NextToken"))
    if after is not None:
        chosen = [m for m in chosen if m[0] > after]
    next_token = None
    if max_results is not None and len(chosen) > max_results:
        chosen = chosen[:max_results]
        next_token = page_token(chosen[-1][0])
    xml = call.result
    xml.open("volumeModificationSet")
    for volume_id, modification in chosen:
        xml.open("item")
        _write_modification(xml, volume_id, modification)
        xml.close("item")
    xml.close("volumeModificationSet")
    xml.element("nextToken", next_token)


MODIFICATION_ACTIONS: dict[str, Action] = {
    "ModifyVolume": Action(modify_volume, mutating=True, resources=arn_of("volume", "VolumeId")),
    "DescribeVolumesModifications": Action(describe_volumes_modifications, mutating=False),
}
