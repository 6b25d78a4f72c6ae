"""The console's "Create image" form on the images page (decision 0147): EC2's CreateImage as
the signed-in user, its refusal shown with the form as typed, and EC2's audit of it."""

from __future__ import annotations

import re
from pathlib import Path

from andromede.audit.model import Outcome
from andromede.compute.service import RunRequest
from support.console import ConsoleHarness, csrf_of, logged_events, running_compute, sign_in_root

_IMAGE_ROW = re.compile(r'<tr class="image" id="image-(ami-[0-9a-f]+)">')


async def test_an_image_of_an_instance_is_created_from_the_images_page(
    console: ConsoleHarness, tmp_path: Path
) -> None:
    disk = tmp_path / "disk.raw"
    disk.write_bytes(b"\0" * 4096)
    compute = running_compute(console)
    public = await compute.import_image_file(disk, name="debian-12", owner_id=None)
    async with console.client() as client:
        tenant = await sign_in_root(console, client)
        [instance] = await compute.run_instances(
            tenant, RunRequest(public.image_id, "t3.nano", instance_tags=(("Name", "web"),))
        )
        await compute.settle()
        page = await client.get("/images")
        assert page.status_code == 200 and 'id="create-image"' in page.text
        assert f'<option value="{instance.instance_id}">web, running</option>' in page.text
        form = {"csrf": csrf_of(page), "instance_id": instance.instance_id, "name": "web-1",
                "description": "the web server", "no_reboot": "yes"}  # fmt: skip
        created = await client.post("/images/create", data=form)
        assert created.status_code == 303, created.text
        assert created.headers["location"] == "/console/images"
        twice = await client.post("/images/create", data=form)
        listing = await client.get("/images")
    [mine] = set(_IMAGE_ROW.findall(listing.text)) - {public.image_id}
    [image] = await compute.describe_images(tenant, [mine])
    assert (image.name, image.description, image.state.value) == (
        "web-1",
        "the web server",
        "available",
    )
    assert image.snapshot_id is not None
    assert twice.status_code == 400 and "(InvalidAMIName.Duplicate)" in twice.text
    assert 'value="the web server"' in twice.text  # the create form, as typed
    events = [
        (e.action, e.outcome)
        for e in await logged_events(console, tenant)
        if e.action == "ec2:CreateImage"
    ]
    assert events == [("ec2:CreateImage", Outcome.SUCCESS), ("ec2:CreateImage", Outcome.FAILURE)]
