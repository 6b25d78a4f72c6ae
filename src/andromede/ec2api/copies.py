"""EC2 CopySnapshot and CopyImage (decision 0098): parameters, refusals and answers.

The source must be in this gateway's region (the only compute region of a deployment).
boto3 and the aws CLI add a ``PresignedUrl`` and a ``DestinationRegion`` to every CopySnapshot
(botocore signs one in the source region); they are checked to name this region, this action
and this snapshot, and otherwise unused: the request itself is signed by the caller and
authorised here, where the source is, which is what the presigned URL does for AWS across
regions. Parameters of what is not done here (Outposts, Local Zones, time-based copies) are
refused with ``UnsupportedOperation`` (decision 0060), never dropped.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from andromede.compute.model import Tags
from andromede.ec2api.errors import Ec2Error
from andromede.ec2api.protocol import Action, Call, Params
from andromede.ec2api.xml import write_tags

__all__ = ["COPY_ACTIONS", "tags_for"]


def tags_for(p: Params, allowed: frozenset[str]) -> dict[str, Tags]:
    """The tags of each ``TagSpecification.N`` by resource type; a type the call does not
    make is refused (its tags would be dropped)."""
    found: dict[str, list[tuple[str, str]]] = {kind: [] for kind in allowed}
    for spec in p.structs("TagSpecification"):
        kind = spec.required("ResourceType")
        if kind not in allowed:
            raise Ec2Error(
                "InvalidParameterValue",
                f"'{kind[:64]}' is not a valid taggable resource type for this operation.",
            )
        found[kind].extend(spec.tags())
    return {kind: tuple(tags) for kind, tags in found.items()}


def _encryption(p: Params) -> str | None:
    """The KmsKeyId asked for. Every snapshot here is encrypted, so ``Encrypted`` false (the
    default) leaves an encrypted copy, as EC2 leaves a copy of an encrypted snapshot; a KMS
    key needs ``Encrypted`` true, as on EC2."""
    encrypted = p.boolean("Encrypted", default=False)
    kms_key_id = p.get("KmsKeyId")
    if kms_key_id is not None and not encrypted:
        raise Ec2Error(
            "InvalidParameterDependency",
            "The parameter KmsKeyId requires the parameter Encrypted to be set.",
        )
    return kms_key_id or None


def _check_presigned_url(call: Call, source_snapshot_id: str) -> None:
    destination = call.params.get("DestinationRegion")
    if destination is not None and destination != call.region:
        raise Ec2Error(
            "InvalidParameterValue",
            f"DestinationRegion {destination[:64]} is not this endpoint's region {call.region}",
        )
    url = call.params.get("PresignedUrl")
    if url is None:
        return
    try:
        query = parse_qs(urlsplit(url).query)
    except ValueError:
        raise Ec2Error("InvalidParameterValue", "The PresignedUrl is not a URL") from None
    credential = (query.get("X-Amz-Credential") or [""])[0].split("/")
    if (
        query.get("Action") != ["CopySnapshot"]
        or query.get("SourceSnapshotId") != [source_snapshot_id]
        or len(credential) != 5
        or credential[2] != call.region
    ):
        raise Ec2Error(
            "InvalidParameterValue",
            "The PresignedUrl must be a CopySnapshot of the same snapshot in "
            f"{call.region}, the only source region here",
        )


async def copy_snapshot(call: Call) -> None:
    p = call.params
    p.refuse_unhandled(
        "CopySnapshot",
        frozenset({"SourceSnapshotId", "SourceRegion", "Description", "Encrypted", "KmsKeyId",
                   "TagSpecification", "PresignedUrl", "DestinationRegion"}),
    )  # fmt: skip
    source_snapshot_id = p.required("SourceSnapshotId")
    source_region = p.required("SourceRegion")
    _check_presigned_url(call, source_snapshot_id)
    kms_key_id = _encryption(p)
    tags = tags_for(p, frozenset({"snapshot"}))["snapshot"]
    snapshot = await call.compute.copy_snapshot(
        call.tenant_id,
        source_snapshot_id,
        source_region=source_region,
        description=p.get("Description") or "",
        kms_key_id=kms_key_id,
        tags=tags,
        caller=call.principal,
    )
    call.result.element("snapshotId", snapshot.snapshot_id)
    write_tags(call.result, snapshot.tags)


async def copy_image(call: Call) -> None:
    p = call.params
    p.refuse_unhandled(
        "CopyImage",
        frozenset({"SourceImageId", "SourceRegion", "Name", "Description", "Encrypted",
                   "KmsKeyId", "ClientToken", "TagSpecification", "CopyImageTags"}),
    )  # fmt: skip
    source_image_id = p.required("SourceImageId")
    source_region = p.required("SourceRegion")
    name = p.required("Name")
    kms_key_id = _encryption(p)
    tags = tags_for(p, frozenset({"image", "snapshot"}))
    image = await call.compute.copy_image(
        call.tenant_id,
        source_image_id,
        source_region=source_region,
        name=name,
        description=p.get("Description"),
        kms_key_id=kms_key_id,
        tags=tags["image"],
        snapshot_tags=tags["snapshot"],
        copy_image_tags=p.boolean("CopyImageTags", default=False),
        caller=call.principal,
        client_token=p.get("ClientToken"),
    )
    call.result.element("imageId", image.image_id)


COPY_ACTIONS: dict[str, Action] = {
    # On the source and on the new snapshot, as EC2's CopySnapshot resource types.
    "CopySnapshot": Action(
        copy_snapshot,
        mutating=True,
        resources=lambda c: [
            c.arn("snapshot", c.params.get("SourceSnapshotId") or "*"),
            c.arn("snapshot"),
        ],
    ),
    "CopyImage": Action(
        copy_image,
        mutating=True,
        resources=lambda c: [
            c.arn("image", c.params.get("SourceImageId") or "*"),
            c.arn("image"),
        ],
    ),
}
