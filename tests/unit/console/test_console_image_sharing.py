"""The console's image sharing page (decision 0147): the accounts an image is shared with
(EC2's DescribeImageAttribute), sharing with one more and stopping (its ModifyImageAttribute)
as the signed-in user, EC2's refusals shown with the form as typed, what the other account
sees, and EC2's audit of each change."""

from __future__ import annotations

import re
from pathlib import Path

from andromede.audit.model import Outcome
from andromede.compute.service import RunRequest
from support.console import ConsoleHarness, csrf_of, logged_events, running_compute, sign_in_root

_IMAGE_ROW = re.compile(r'<tr class="image" id="image-(ami-[0-9a-f]+)">')
_SHARED_ROW = re.compile(r'<tr class="shared" id="shared-([^"]+)">')


async def test_an_image_is_shared_with_an_account_and_no_longer(
    console: ConsoleHarness, tmp_path: Path
) -> None:
    disk = tmp_path / "disk.raw"
    disk.write_bytes(b"\0" * 4096)
    compute = running_compute(console)
    public = await compute.import_image_file(disk, name="debian-12", owner_id=None)
    async with console.client() as client, console.client(**{"accept-language": "fr"}) as other:
        tenant = await sign_in_root(console, client)
        partner = await sign_in_root(console, other, "partner")
        [instance] = await compute.run_instances(tenant, RunRequest(public.image_id, "t3.nano"))
        await compute.settle()
        page = await client.get("/images")
        form = {"csrf": csrf_of(page), "instance_id": instance.instance_id, "name": "golden",
                "description": "", "no_reboot": "yes"}  # fmt: skip
        assert (await client.post("/images/create", data=form)).status_code == 303
        listing = await client.get("/images")
        [image_id] = set(_IMAGE_ROW.findall(listing.text)) - {public.image_id}
        sharing = f"/images/{image_id}/sharing"
        # The owner's image has its sharing page; the operator's public one has none.
        assert f'href="/console{sharing}"' in listing.text
        assert f"/images/{public.image_id}/sharing" not in listing.text

        page = await client.get(sharing)
        assert page.status_code == 200, page.text
        assert "<h1>Sharing of golden</h1>" in page.text and 'id="not-shared"' in page.text
        token = csrf_of(page)
        shared = await client.post(f"{sharing}/add", data={"csrf": token, "account_id": partner})
        assert shared.status_code == 303, shared.text
        assert shared.headers["location"] == f"/console{sharing}"
        page = await client.get(sharing)
        assert _SHARED_ROW.findall(page.text) == [partner]
        [stored] = await compute.describe_images(tenant, [image_id])
        assert stored.launch_permissions == (partner,)

        # EC2's refusals, with the form as typed: a malformed id, the owner itself.
        for account in ("not an account!", tenant):
            refused = await client.post(
                f"{sharing}/add", data={"csrf": token, "account_id": account}
            )
            assert refused.status_code == 400, refused.text
            assert "(InvalidParameterValue)" in refused.text
            assert f'name="account_id" required maxlength="64" value="{account}"' in refused.text
            assert _SHARED_ROW.findall(refused.text) == [partner]  # the list, unchanged

        # The other account finds the image, shared with it, and may not change its sharing.
        theirs = await other.get("/images")
        assert f'id="image-{image_id}"' in theirs.text
        assert "Partagée avec ce compte" in theirs.text
        assert f"/images/{image_id}/sharing" not in theirs.text
        assert f"/images/{image_id}/deregister" not in theirs.text
        looked = await other.get(sharing)
        assert "(InvalidAMIID.NotFound)" in looked.text and 'id="share-image"' not in looked.text
        tried = await other.post(
            f"{sharing}/add", data={"csrf": csrf_of(theirs), "account_id": "someone-else"}
        )
        assert "(InvalidAMIID.NotFound)" in tried.text
        assert (await compute.describe_images(tenant, [image_id]))[0].launch_permissions == (
            partner,
        )

        stopped = await client.post(
            f"{sharing}/remove", data={"csrf": token, "account_id": partner}
        )
        assert stopped.status_code == 303, stopped.text
        page = await client.get(sharing)
        assert _SHARED_ROW.findall(page.text) == [] and 'id="not-shared"' in page.text
        assert f'id="image-{image_id}"' not in (await other.get("/images")).text

    events = [
        e.outcome
        for e in await logged_events(console, tenant)
        if e.action == "ec2:ModifyImageAttribute"
    ]
    assert events == [Outcome.SUCCESS, Outcome.FAILURE, Outcome.FAILURE, Outcome.SUCCESS]


async def test_the_sharing_page_of_an_image_that_does_not_exist(console: ConsoleHarness) -> None:
    async with console.client() as client:
        await sign_in_root(console, client)
        page = await client.get("/images/ami-0123456789abcdef0/sharing")
        assert page.status_code == 400 and "(InvalidAMIID.NotFound)" in page.text
        assert 'id="share-image"' not in page.text
