"""Route 53 traffic policies' console page (decision 0340) in a real browser: Debian's
Chromium driven by Playwright against the session's ``andromede serve``, as
``test_console_browser.py`` drives the other pages (tests/support/console_browser.py's
browser, user and page; skipped without Chromium or Playwright). A user whose IAM allows
Route 53 pastes an invalid document (Route 53's refusal shown, the text kept), a valid one,
adds a version from the policy's folded form, makes a policy record for a zone made with
boto3, moves it to version 2 and deletes it — each checked with boto3, with no script error or
CSP violation. The same server's other flows: delegation sets, authorisations and geoproximity
(decision 0354), CIDR collections and IP-based sets (decision 0361)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from e2e.iam_helpers import client_for, new_tenant
from support.console_browser import console_page, console_user, sign_in
from support.server import REGION, ServerProcess
from support.traffic_policies import MULTIVALUE, ONE_VALUE

pytestmark = [pytest.mark.e2e]


def test_a_traffic_policy_and_its_record_made_in_the_browser(
    browser: Any, server: ServerProcess
) -> None:
    tenant = new_tenant(server, "console-traffic")
    iam = client_for(server, "iam", tenant.access_key_id, tenant.secret_access_key)
    console_user(
        iam,
        "flow",
        "route53",
        '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", '
        '"Action": ["route53:*", "s3:ListAllMyBuckets"], "Resource": "*"}]}',
    )
    route53: Any = client_for(server, "route53", tenant.access_key_id, tenant.secret_access_key)
    zone_id = route53.create_hosted_zone(Name="browser-flow.example.", CallerReference="tp")[
        "HostedZone"
    ]["Id"].rsplit("/", 1)[-1]
    flow = "traffic policy browser flow"
    with console_page(browser, server, timed=flow) as (page, console, reported):
        sign_in(page, console, tenant.account, "flow")
        page.click("#menu-traffic-policies")
        page.wait_for_url(f"{console}/traffic-policies")
        page.fill("#create-policy-form input[name=name]", "browser-flow")
        bad = json.dumps({**ONE_VALUE, "RecordType": "TXT"})
        page.fill("#create-policy-form textarea[name=document]", bad)
        page.click("#create-policy")
        assert "(InvalidTrafficPolicyDocument)" in page.inner_text("p[role=alert]")
        assert page.input_value("#create-policy-form textarea[name=document]") == bad
        # The refusal's page is a 400, which the browser reports; nothing else may be.
        assert [r for r in reported if "status of 400" not in r] == [], reported
        reported.clear()
        page.fill("#create-policy-form textarea[name=document]", json.dumps(ONE_VALUE))
        page.click("#create-policy")
        page.wait_for_selector("section.traffic-policy")
        (summary,) = route53.list_traffic_policies()["TrafficPolicySummaries"]
        policy_id = summary["Id"]
        page.click(f"#policy-{policy_id} details summary >> text=Add a version")
        page.fill(f"#version-form-{policy_id} textarea[name=document]", json.dumps(MULTIVALUE))
        page.click(f"#version-form-{policy_id} button.add-version")
        page.wait_for_selector(f"#version-{policy_id}-2")

        page.select_option("#record-zone", zone_id)
        page.fill("#create-record-form input[name=name]", "www.browser-flow.example.")
        page.fill("#create-record-form input[name=ttl]", "30")
        page.select_option("#record-policy", f"{policy_id}/1")
        page.click("#create-record")
        page.wait_for_selector("tr.policy-record")
        (instance,) = route53.list_traffic_policy_instances()["TrafficPolicyInstances"]
        assert (instance["TTL"], instance["TrafficPolicyVersion"]) == (30, 1)
        row = f"#instance-{instance['Id']}"
        page.select_option(f"{row} select[name=policy]", f"{policy_id}/2")
        page.click(f"{row} button.update-record")
        page.wait_for_selector(f"{row} .version >> text=2")
        got = route53.get_traffic_policy_instance(Id=instance["Id"])["TrafficPolicyInstance"]
        assert got["TrafficPolicyVersion"] == 2
        values = sorted(
            r["Value"]
            for s in route53.list_resource_record_sets(HostedZoneId=zone_id)["ResourceRecordSets"]
            if s.get("TrafficPolicyInstanceId") == instance["Id"]
            for r in s["ResourceRecords"]
        )
        assert values == ["192.0.2.20", "192.0.2.30"]
        page.check(f"{row} input[name=confirm]")
        page.click(f"{row} button.danger")
        page.wait_for_selector("#no-policy-records")
        assert route53.list_traffic_policy_instances()["TrafficPolicyInstances"] == []
        assert reported == [], reported


def _route53_user(server: ServerProcess, tenant: Any, name: str) -> None:
    """A console user of ``tenant`` allowed Route 53 and the VPC list."""
    console_user(
        client_for(server, "iam", tenant.access_key_id, tenant.secret_access_key),
        name,
        "route53",
        '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", '
        '"Action": ["route53:*", "ec2:DescribeVpcs", "s3:ListAllMyBuckets"], "Resource": "*"}]}',
    )


def test_a_delegation_set_an_authorisation_and_a_geoproximity_set_in_the_browser(
    browser: Any, server: ServerProcess
) -> None:
    """Decision 0354: a set made and a zone put on it (its deletion refused while the zone
    uses it), a geoproximity set written from the record form (a bias past 99 refused in
    Route 53's words), another account's VPC authorised on a private zone and that account
    associating the zone from its own zones page — each checked with boto3."""
    hub, spoke = new_tenant(server, "console-r53-hub"), new_tenant(server, "console-r53-spoke")
    _route53_user(server, hub, "hub")
    _route53_user(server, spoke, "spoke")
    hub_route53: Any = client_for(server, "route53", hub.access_key_id, hub.secret_access_key)
    hub_ec2: Any = client_for(server, "ec2", hub.access_key_id, hub.secret_access_key)
    spoke_ec2: Any = client_for(server, "ec2", spoke.access_key_id, spoke.secret_access_key)
    hub_vpc = hub_ec2.create_vpc(CidrBlock="10.71.0.0/16")["Vpc"]["VpcId"]
    spoke_vpc = spoke_ec2.create_vpc(CidrBlock="10.72.0.0/16")["Vpc"]["VpcId"]
    private = hub_route53.create_hosted_zone(
        Name="hub-browser.internal",
        CallerReference="browser-hub",
        VPC={"VPCRegion": REGION, "VPCId": hub_vpc},
        HostedZoneConfig={"PrivateZone": True},
    )["HostedZone"]["Id"].rsplit("/", 1)[-1]
    public_name = f"set-{uuid.uuid4().hex[:10]}.example"
    flow = "Route 53 sets and authorisations browser flow"
    with console_page(browser, server, timed=flow) as (page, console, reported):
        sign_in(page, console, hub.account, "hub")
        page.click("#menu-delegation-sets")
        page.wait_for_url(f"{console}/delegation-sets")
        page.click("#create-set")
        page.wait_for_selector("tr.delegation-set")
        (made,) = hub_route53.list_reusable_delegation_sets()["DelegationSets"]
        set_id = made["Id"].rsplit("/", 1)[-1]
        page.click("#menu-route53")
        page.fill("#create-zone-form input[name=name]", public_name)
        page.select_option("#zone-delegation-set", set_id)
        page.click("#create-zone")
        page.wait_for_selector("#zone-delegation-set")
        zone = page.inner_text("#zone-id")
        got = hub_route53.get_hosted_zone(Id=zone)["DelegationSet"]
        assert got == {"Id": made["Id"], "NameServers": made["NameServers"]}

        page.fill("#record-form input[name=name]", "www")
        page.fill("#record-form textarea[name=values]", "192.0.2.7")
        page.select_option("#record-policy", "geoproximity")
        page.fill("#record-form input[name=identifier]", "paris")
        page.select_option("#record-gp-place", "Coordinates")
        page.fill("#record-form input[name=latitude]", "48.86")
        page.fill("#record-form input[name=longitude]", "2.35")
        page.fill("#record-form input[name=bias]", "150")
        page.click("#save-record")
        assert "cvc-maxInclusive-valid" in page.inner_text("p[role=alert]")
        assert page.input_value("#record-form input[name=bias]") == "150"
        page.fill("#record-form input[name=bias]", "25")
        page.click("#save-record")
        page.wait_for_selector(".geoproximity >> text=48.86, 2.35")
        sets = hub_route53.list_resource_record_sets(HostedZoneId=zone)["ResourceRecordSets"]
        (paris,) = [s for s in sets if s.get("SetIdentifier") == "paris"]
        assert paris["GeoProximityLocation"] == {
            "Coordinates": {"Latitude": "48.86", "Longitude": "2.35"}, "Bias": 25
        }  # fmt: skip

        page.click("#menu-delegation-sets")
        page.check(f"#set-{set_id} input[name=confirm]")
        page.click(f"#set-{set_id} button.danger")
        assert "(DelegationSetInUse)" in page.inner_text("p[role=alert]")
        assert hub_route53.list_reusable_delegation_sets()["DelegationSets"] == [made]

        page.goto(f"{console}/hosted-zones/{private}")
        page.fill("#authorise-form input[name=vpc_id]", spoke_vpc)
        page.click("#authorise-vpc")
        page.wait_for_selector(f"#authorisation-{spoke_vpc}")
        listed = hub_route53.list_vpc_association_authorizations(HostedZoneId=private)
        assert listed["VPCs"] == [{"VPCRegion": REGION, "VPCId": spoke_vpc}]

        with console_page(browser, server) as (spoke_page, _, spoke_reported):
            sign_in(spoke_page, console, spoke.account, "spoke")
            spoke_page.click("#menu-route53")
            spoke_page.fill("#associate-shared-form input[name=zone_id]", private)
            spoke_page.select_option("#associate-shared-form select[name=vpc_id]", spoke_vpc)
            spoke_page.click("#associate-shared")
            spoke_page.wait_for_selector(f"#shared-{private}-{spoke_vpc}")
            vpcs = hub_route53.get_hosted_zone(Id=private)["VPCs"]
            assert {v["VPCId"] for v in vpcs} == {hub_vpc, spoke_vpc}
            # The refusals' pages are 400s, which the browser reports; nothing else may be.
            everything = reported + spoke_reported
            assert [r for r in everything if "status of 400" not in r] == [], everything


def test_a_cidr_collection_and_an_ip_based_set_in_the_browser(
    browser: Any, server: ServerProcess
) -> None:
    """Decision 0361: a CIDR collection made, a location's blocks added, a change from a page
    made stale by boto3 refused in words with the form kept and sent again, an IP-based set
    written from the record form, the collection's deletion refused while the set names it —
    each checked with boto3."""
    tenant = new_tenant(server, "console-r53-cidr")
    _route53_user(server, tenant, "cidr")
    route53: Any = client_for(server, "route53", tenant.access_key_id, tenant.secret_access_key)
    zone = route53.create_hosted_zone(
        Name=f"cidr-{uuid.uuid4().hex[:10]}.example", CallerReference="browser-cidr"
    )["HostedZone"]["Id"].rsplit("/", 1)[-1]
    flow = "Route 53 CIDR collection browser flow"
    with console_page(browser, server, timed=flow) as (page, console, reported):
        sign_in(page, console, tenant.account, "cidr")
        page.click("#menu-cidr-collections")
        page.wait_for_url(f"{console}/cidr-collections")
        page.fill("#create-collection-form input[name=name]", "browser-isps")
        page.click("#create-collection")
        page.wait_for_selector("#collection-version >> text=1")
        (made,) = route53.list_cidr_collections()["CidrCollections"]
        collection = made["Id"]
        page.fill("#location-form input[name=location]", "paris")
        page.fill("#location-form textarea[name=blocks]", "192.0.2.0/24")
        page.click("#save-location")
        page.wait_for_selector("#location-paris")
        blocks = route53.list_cidr_blocks(CollectionId=collection)["CidrBlocks"]
        assert blocks == [{"CidrBlock": "192.0.2.0/24", "LocationName": "paris"}]

        # Another client changes the collection: the page's version 2 is stale.
        route53.change_cidr_collection(
            Id=collection,
            CollectionVersion=2,
            Changes=[{"LocationName": "lyon", "Action": "PUT", "CidrList": ["198.51.100.0/24"]}],
        )
        page.fill("#location-form input[name=location]", "nice")
        page.fill("#location-form textarea[name=blocks]", "203.0.113.0/24")
        page.click("#save-location")
        assert "(CidrCollectionVersionMismatchException)" in page.inner_text("p[role=alert]")
        assert page.input_value("#location-form input[name=location]") == "nice"
        assert page.inner_text("#collection-version") == "3"
        page.click("#save-location")
        page.wait_for_selector("#location-nice")
        locations = route53.list_cidr_locations(CollectionId=collection)["CidrLocations"]
        assert sorted(loc["LocationName"] for loc in locations) == ["lyon", "nice", "paris"]

        page.goto(f"{console}/hosted-zones/{zone}")
        page.fill("#record-form input[name=name]", "www")
        page.fill("#record-form textarea[name=values]", "192.0.2.8")
        page.select_option("#record-policy", "cidr")
        page.fill("#record-form input[name=identifier]", "paris")
        page.select_option("#record-cidr-collection", collection)
        page.fill("#record-form input[name=cidr_location]", "paris")
        page.click("#save-record")
        page.wait_for_selector(".cidr >> text=browser-isps")
        sets = route53.list_resource_record_sets(HostedZoneId=zone)["ResourceRecordSets"]
        (paris,) = [s for s in sets if s.get("SetIdentifier") == "paris"]
        assert paris["CidrRoutingConfig"] == {"CollectionId": collection, "LocationName": "paris"}

        page.goto(f"{console}/cidr-collections/{collection}")
        page.check("form[action$='/delete'] input[name=confirm]")
        page.click("form[action$='/delete'] button.danger")
        assert "(CidrCollectionInUseException)" in page.inner_text("p[role=alert]")
        assert [c["Id"] for c in route53.list_cidr_collections()["CidrCollections"]] == [collection]
        # The refusals' pages are 400 and 409, which the browser reports; nothing else may be.
        refusals = ("status of 400", "status of 409")
        assert [r for r in reported if not any(s in r for s in refusals)] == [], reported
