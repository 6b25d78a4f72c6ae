"""The console's Multi-Region Access Point pages (decision 0391) in a real browser: Debian's
Chromium driven by Playwright (tests/support/console_browser.py; skipped without Chromium or
Playwright) against an ``andromede serve`` of two Regions. An IAM user allowed S3 makes a
Multi-Region Access Point over a bucket of each Region (made with boto3), Block Public Access
left all on as the form offers it, reads its alias and ARN, dials eu-fr-1 to 0, gives it a
policy (decision 0401: the page then shows the operation SUCCEEDED) and deletes it — each
checked with S3 Control through boto3, with no script error or CSP violation."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from e2e.iam_helpers import client_for, new_tenant
from e2e.test_s3control import s3control_client
from support.console_browser import console_page, console_user, sign_in
from support.server import REGION, ServerProcess, running_server

pytestmark = [pytest.mark.e2e]

FR, DE = REGION, "eu-de-1"


@pytest.fixture(scope="module")
def two_regions(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    regions = [{"name": FR, "jurisdiction": "FR"}, {"name": DE, "jurisdiction": "DE"}]
    env = {"ANDROMEDE_REGIONS": json.dumps(regions), "ANDROMEDE_WORKERS": "1"}
    with running_server(tmp_path_factory.mktemp("mrap-console") / "data", extra_env=env) as server:
        yield server


def test_a_multi_region_access_point_made_dialled_and_deleted_in_the_browser(
    browser: Any, two_regions: ServerProcess
) -> None:
    server = two_regions
    tenant = new_tenant(server, "console-mrap")
    iam = client_for(server, "iam", tenant.access_key_id, tenant.secret_access_key)
    console_user(
        iam,
        "geo",
        "s3",
        '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", '
        '"Resource": "*"}]}',
    )
    s3 = client_for(server, "s3", tenant.access_key_id, tenant.secret_access_key)
    french, german = f"mrapc-fr-{uuid.uuid4().hex[:8]}", f"mrapc-de-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=french)
    s3.create_bucket(Bucket=german, CreateBucketConfiguration={"LocationConstraint": DE})
    control = s3control_client(server, tenant.access_key_id, tenant.secret_access_key)

    with console_page(browser, server, timed="multi-region access point flow") as (
        page,
        console,
        reported,
    ):
        sign_in(page, console, tenant.account, "geo")
        page.click("#multi-region-access-points")
        page.wait_for_url(f"{console}/multi-region-access-points")
        assert page.locator("#no-mraps").count() == 1
        page.fill("#create-mrap-form input[name=name]", "global")
        page.check(f"#mrap-bucket-{french}")
        page.check(f"#mrap-bucket-{german}")
        page.click("#create-mrap")
        page.wait_for_url(re.compile(rf"{console}/multi-region-access-points/global\?operation=.+"))
        point = control.get_multi_region_access_point(AccountId=tenant.account, Name="global")
        alias = point["AccessPoint"]["Alias"]
        assert page.inner_text("#mrap-alias") == alias
        assert set(point["AccessPoint"]["PublicAccessBlock"].values()) == {True}
        assert page.inner_text("#mrap-operation-status") == "SUCCEEDED"
        arn = f"arn:aws:s3::{tenant.account}:accesspoint/{alias}"
        assert page.inner_text("#mrap-arn") == arn
        assert page.locator("tr.mrap-route").count() == 2

        page.select_option(f"#dial-{FR}", "0")
        page.click("#save-mrap-routes")
        page.wait_for_url(f"{console}/multi-region-access-points/global")
        routes = control.get_multi_region_access_point_routes(AccountId=tenant.account, Mrap=arn)
        dials = {r["Region"]: r["TrafficDialPercentage"] for r in routes["Routes"]}
        assert dials == {FR: 0, DE: 100}
        assert page.input_value(f"#dial-{FR}") == "0"

        policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Deny",
                  "Principal": "*", "Action": "s3:DeleteObject",
                  "Resource": f"{arn}/object/*"}]}  # fmt: skip
        page.fill("#mrap-policy-text", json.dumps(policy))
        page.click("#save-mrap-policy")
        page.wait_for_url(re.compile(r".*/global\?operation=.*put-policy.*"))
        assert page.inner_text("#mrap-operation-name") == "PutMultiRegionAccessPointPolicy"
        assert page.inner_text("#mrap-operation-status") == "SUCCEEDED"
        held = control.get_multi_region_access_point_policy(AccountId=tenant.account, Name="global")
        assert json.loads(held["Policy"]["Established"]["Policy"]) == policy
        assert "s3:DeleteObject" in page.inner_text("#mrap-policy")

        page.check("#delete-mrap-form input[name=confirm]")
        page.click("#delete-mrap")
        page.wait_for_url(re.compile(rf"{console}/multi-region-access-points\?operation=.+"))
        page.wait_for_selector("#no-mraps")
        assert (
            control.list_multi_region_access_points(AccountId=tenant.account)["AccessPoints"] == []
        )
        assert reported == [], reported
