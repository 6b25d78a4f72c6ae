"""Decision 0346's VPC association authorisations through botocore's own rest-xml model: an
account's private zone authorises another account's VPC, whose owner then associates it (and
not before: ``NotAuthorizedException``); the zone is then answered in that VPC, listed by
ListHostedZonesByVPC for the VPC's owner, disassociated by either account; authorisations
listed in pages, withdrawn, bounded; every refusal in AWS's codes."""

from __future__ import annotations

from support.route53app import World

ZONE_VPC = {"VPCRegion": "eu-fr-1", "VPCId": "vpc-a"}
THEIR_VPC = {"VPCRegion": "eu-fr-1", "VPCId": "vpc-b"}


async def _worlds(world: World) -> tuple[World, str]:
    other = await world.other_tenant("vpc-owner")
    world.vpcs.update(
        {(world.tenant_id, "eu-fr-1", "vpc-a"), (other.tenant_id, "eu-fr-1", "vpc-b")}
    )
    zone = await world.zone("corp.internal", VPC=ZONE_VPC)
    return other, zone


async def test_an_authorised_vpc_is_associated_by_its_owner_and_answers(world: World) -> None:
    other, zone = await _worlds(world)
    refused = await other.fails(
        "AssociateVPCWithHostedZone", "NotAuthorizedException", HostedZoneId=zone, VPC=THEIR_VPC
    )
    assert refused.status == 401
    made = await world.client("CreateVPCAssociationAuthorization", HostedZoneId=zone,
                              VPC=THEIR_VPC)  # fmt: skip
    assert made["HostedZoneId"] == zone.split("/")[-1] and made["VPC"] == THEIR_VPC
    listed = await world.client("ListVPCAssociationAuthorizations", HostedZoneId=zone)
    assert listed["VPCs"] == [THEIR_VPC] and "NextToken" not in listed
    # Only the VPC's owner associates it: the zone's account does not own it.
    await world.fails(
        "AssociateVPCWithHostedZone", "InvalidVPCId", HostedZoneId=zone, VPC=THEIR_VPC
    )
    await other.client("AssociateVPCWithHostedZone", HostedZoneId=zone, VPC=THEIR_VPC)
    got = await world.client("GetHostedZone", Id=zone)
    assert got["VPCs"] == [ZONE_VPC, THEIR_VPC]
    # The VPC's resolver answers the other account's zone.
    names, document = await world.service.vpc_zones("vpc-b")
    assert names == ("corp.internal",) and document
    by_vpc = await other.client("ListHostedZonesByVPC", VPCId="vpc-b", VPCRegion="eu-fr-1")
    assert by_vpc["HostedZoneSummaries"] == [
        {
            "HostedZoneId": zone.split("/")[-1],
            "Name": "corp.internal.",
            "Owner": {"OwningAccount": world.tenant_id},
        }
    ]
    # Someone else's VPC lists only their own zones.
    third = await world.other_tenant("third")
    none = await third.client("ListHostedZonesByVPC", VPCId="vpc-b", VPCRegion="eu-fr-1")
    assert none["HostedZoneSummaries"] == []
    # The authorisation withdrawn, the association stays; the VPC's owner disassociates.
    await world.client("DeleteVPCAssociationAuthorization", HostedZoneId=zone, VPC=THEIR_VPC)
    assert (await world.client("ListVPCAssociationAuthorizations", HostedZoneId=zone))["VPCs"] == []
    assert (await world.client("GetHostedZone", Id=zone))["VPCs"] == [ZONE_VPC, THEIR_VPC]
    await third.fails(
        "DisassociateVPCFromHostedZone", "NoSuchHostedZone", HostedZoneId=zone, VPC=THEIR_VPC
    )
    await other.client("DisassociateVPCFromHostedZone", HostedZoneId=zone, VPC=THEIR_VPC)
    assert (await world.client("GetHostedZone", Id=zone))["VPCs"] == [ZONE_VPC]
    assert await world.service.vpc_zones("vpc-b") == ((), "")
    await other.fails(
        "AssociateVPCWithHostedZone", "NotAuthorizedException", HostedZoneId=zone, VPC=THEIR_VPC
    )


async def test_the_zones_account_also_disassociates(world: World) -> None:
    other, zone = await _worlds(world)
    await world.client("CreateVPCAssociationAuthorization", HostedZoneId=zone, VPC=THEIR_VPC)
    await other.client("AssociateVPCWithHostedZone", HostedZoneId=zone, VPC=THEIR_VPC)
    await world.client("DisassociateVPCFromHostedZone", HostedZoneId=zone, VPC=ZONE_VPC)
    assert (await world.client("GetHostedZone", Id=zone))["VPCs"] == [THEIR_VPC]
    await other.fails(
        "DisassociateVPCFromHostedZone", "LastVPCAssociation", HostedZoneId=zone, VPC=THEIR_VPC
    )
    # A zone of that name already on the VPC: ConflictingDomainExists, whoever owns it.
    world.vpcs.add((other.tenant_id, "eu-fr-1", "vpc-c"))
    mine = await other.zone("corp.internal", VPC={"VPCRegion": "eu-fr-1", "VPCId": "vpc-c"})
    await other.client(
        "AssociateVPCWithHostedZone", HostedZoneId=mine, VPC={"VPCRegion": "eu-fr-1",
                                                              "VPCId": "vpc-c"}
    )  # fmt: skip
    await other.fails(
        "AssociateVPCWithHostedZone",
        "ConflictingDomainExists",
        HostedZoneId=mine,
        VPC=THEIR_VPC,
    )


async def test_authorisations_are_checked_paged_and_bounded(world: World) -> None:
    other, zone = await _worlds(world)
    await world.fails(
        "CreateVPCAssociationAuthorization",
        "InvalidVPCId",
        HostedZoneId=zone,
        VPC={"VPCRegion": "eu-fr-1", "VPCId": "vpc-none"},
    )
    await other.fails(
        "CreateVPCAssociationAuthorization", "NoSuchHostedZone", HostedZoneId=zone, VPC=THEIR_VPC
    )
    await world.fails(
        "CreateVPCAssociationAuthorization",
        "NoSuchHostedZone",
        HostedZoneId="ZNOSUCHZONE",
        VPC=THEIR_VPC,
    )
    public = await world.zone("public.example")
    await world.fails(
        "CreateVPCAssociationAuthorization", "InvalidInput", HostedZoneId=public, VPC=THEIR_VPC
    )
    missing = await world.fails(
        "DeleteVPCAssociationAuthorization",
        "VPCAssociationAuthorizationNotFound",
        HostedZoneId=zone,
        VPC=THEIR_VPC,
    )
    assert missing.status == 404
    world.vpcs.update({(other.tenant_id, "eu-fr-1", "vpc-d"), (other.tenant_id, "eu-fr-1",
                                                               "vpc-e")})  # fmt: skip
    for vpc_id in ("vpc-b", "vpc-d", "vpc-b"):  # again: nothing more
        await world.client(
            "CreateVPCAssociationAuthorization",
            HostedZoneId=zone,
            VPC={"VPCRegion": "eu-fr-1", "VPCId": vpc_id},
        )
    full = await world.fails(
        "CreateVPCAssociationAuthorization",
        "TooManyVPCAssociationAuthorizations",
        HostedZoneId=zone,
        VPC={"VPCRegion": "eu-fr-1", "VPCId": "vpc-e"},
    )
    assert full.status == 400
    first = await world.client(
        "ListVPCAssociationAuthorizations", HostedZoneId=zone, MaxResults="1"
    )
    assert first["VPCs"] == [THEIR_VPC]
    rest = await world.client(
        "ListVPCAssociationAuthorizations", HostedZoneId=zone, NextToken=first["NextToken"]
    )
    assert rest["VPCs"] == [{"VPCRegion": "eu-fr-1", "VPCId": "vpc-d"}]
    await world.fails(
        "ListVPCAssociationAuthorizations",
        "InvalidPaginationToken",
        HostedZoneId=zone,
        NextToken="not a token",
    )
    await other.fails("ListVPCAssociationAuthorizations", "NoSuchHostedZone", HostedZoneId=zone)
    # The authorisations go with the zone.
    await world.client("DeleteHostedZone", Id=zone)
    await other.fails(
        "AssociateVPCWithHostedZone", "NoSuchHostedZone", HostedZoneId=zone, VPC=THEIR_VPC
    )
