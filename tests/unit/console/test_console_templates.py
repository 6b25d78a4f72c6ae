"""The console's snapshots and launch templates pages: each read and change EC2's own call as
the signed-in user, so EC2's states, policies and errors answer, and EC2 audits the changes."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from andromede.audit.model import Outcome
from andromede.compute.launch_templates import TemplateRef
from support.console import (
    ConsoleHarness,
    csrf,
    csrf_of,
    log_in,
    logged_events,
    running_compute,
    sign_in_root,
)

_SNAPSHOT_ROW = re.compile(r'<tr class="snapshot" id="snapshot-(snap-[0-9a-f]+)">')
_TEMPLATE_ROW = re.compile(r'<tr class="launch-template" id="launch-template-(lt-[0-9a-f]+)">')
_INSTANCE_ROW = re.compile(r'<tr class="instance" id="instance-(i-[0-9a-f]+)">')
_CLIENT_TOKEN = re.compile(r'name="client_token" value="([^"]+)"')
_MISSING_SNAPSHOT = "snap-0123456789abcdef0"
_MISSING_TEMPLATE = "lt-0123456789abcdef0"


async def _volume(console: ConsoleHarness, tenant: str, size_gib: int = 1) -> str:
    compute = running_compute(console)
    volume = await compute.create_volume(
        tenant, size_gib=size_gib, snapshot_id=None, availability_zone="eu-fr-1a"
    )
    await compute.settle()
    return volume.volume_id


async def _image(console: ConsoleHarness, tmp_path: Path) -> str:
    """A public image, as an operator imports one."""
    disk = tmp_path / "disk.raw"
    disk.write_bytes(b"\0" * 4096)
    image = await running_compute(console).import_image_file(disk, name="debian-12", owner_id=None)
    return image.image_id


def _row(page: httpx.Response, row_id: str) -> str:
    start = page.text.index(f'id="{row_id}"')
    return page.text[start : page.text.index("</tr>", start)]


def _client_tokens(page: httpx.Response) -> list[str]:
    return _CLIENT_TOKEN.findall(page.text)


async def _create_template(
    client: httpx.AsyncClient, name: str, image_id: str, **extra: str | list[str]
) -> httpx.Response:
    token = await csrf(client, "/launch-templates")
    data: dict[str, str | list[str]] = {
        "csrf": token, "name": name, "description": "first", "image_id": image_id,
        "instance_type": "t2.nano", "key_name": "", **extra,
    }  # fmt: skip
    return await client.post("/launch-templates", data=data)


# -- snapshots -------------------------------------------------------------------------------


async def test_snapshots_taken_listed_restored_and_deleted(console: ConsoleHarness) -> None:
    compute = running_compute(console)
    async with console.client() as client:
        tenant = await sign_in_root(console, client)
        volume_id = await _volume(console, tenant, size_gib=2)
        instances = await client.get("/instances")
        assert 'href="/console/snapshots"' in instances.text
        assert 'href="/console/launch-templates"' in instances.text
        empty = await client.get("/snapshots")
        assert empty.status_code == 200 and "No snapshots." in empty.text
        assert f'<option value="{volume_id}">2 GiB, eu-fr-1a, available</option>' in empty.text
        assert 'href="/console/images"' in empty.text  # where an image is registered from one

        token = csrf_of(empty)
        taken = await client.post(
            "/snapshots", data={"csrf": token, "volume_id": volume_id, "description": "gold <1>"}
        )
        assert taken.status_code == 303, taken.text
        assert taken.headers["location"] == "/console/snapshots"
        [held] = await compute.describe_snapshots(tenant, [])
        assert (held.volume_id, held.description) == (volume_id, "gold <1>")
        listing = await client.get("/snapshots")
        assert _SNAPSHOT_ROW.findall(listing.text) == [held.snapshot_id]
        row = re.sub(r"\s+", " ", _row(listing, f"snapshot-{held.snapshot_id}"))
        assert f"<td><code>{volume_id}</code></td> <td>2</td>" in row
        assert f'<td class="state">{held.state}</td> <td>gold &lt;1&gt;</td>' in row
        assert held.started_at.strftime("%Y-%m-%d %H:%M:%S") in row
        assert '<option value="eu-fr-1a">' in row

        # A volume of it: the snapshot's size, or a larger one; each form makes one volume.
        [tokens] = [_client_tokens(listing)]
        restore = f"/snapshots/{held.snapshot_id}/volume"
        form = {"csrf": token, "zone": "eu-fr-1a", "size": "", "client_token": tokens[0]}
        restored = await client.post(restore, data=form)
        assert restored.status_code == 303, restored.text
        assert restored.headers["location"] == "/console/volumes"
        again = await client.post(restore, data=form)  # the same form, sent twice
        assert again.status_code == 303, again.text
        larger = await client.post(
            restore, data={**form, "size": "5", "client_token": "another-form"}
        )
        assert larger.status_code == 303, larger.text
        smaller = await client.post(restore, data={**form, "size": "1", "client_token": "third"})
        await compute.settle()
        copies = [v for v in await compute.describe_volumes(tenant, []) if v.volume_id != volume_id]
        assert sorted((v.snapshot_id, v.size_gib) for v in copies) == [
            (held.snapshot_id, 2),
            (held.snapshot_id, 5),
        ]

        in_use = await client.post(f"/snapshots/{held.snapshot_id}/delete", data={"csrf": token})
        for copy in copies:
            dropped = await client.post(f"/volumes/{copy.volume_id}/delete", data={"csrf": token})
            assert dropped.status_code == 303, dropped.text
        await compute.settle()
        deleted = await client.post(f"/snapshots/{held.snapshot_id}/delete", data={"csrf": token})
        after = await client.get("/snapshots")
        twice = await client.post(f"/snapshots/{held.snapshot_id}/delete", data={"csrf": token})
    assert smaller.status_code == 400 and 'role="alert"' in smaller.text
    assert "(InvalidParameterValue)" in smaller.text
    # Volumes made from it read it: EC2 keeps it until they are gone.
    assert in_use.status_code == 400 and "(InvalidSnapshot.InUse)" in in_use.text
    assert deleted.status_code == 303, deleted.text
    assert _SNAPSHOT_ROW.findall(after.text) == [] and "No snapshots." in after.text
    assert await compute.describe_snapshots(tenant, []) == []
    assert twice.status_code == 400 and "(InvalidSnapshot.NotFound)" in twice.text


async def test_refused_snapshot_calls_show_ec2s_error(console: ConsoleHarness) -> None:
    async with console.client() as client:
        tenant = await sign_in_root(console, client)
        token = await csrf(client, "/snapshots")
        unknown = await client.post(
            "/snapshots",
            data={"csrf": token, "volume_id": "vol-0123456789abcdef0", "description": "kept <i>"},
        )
        malformed = await client.post(
            "/snapshots", data={"csrf": token, "volume_id": "my disk", "description": ""}
        )
        missing = await client.post(
            f"/snapshots/{_MISSING_SNAPSHOT}/volume",
            data={"csrf": token, "zone": "eu-fr-1a", "client_token": "t1"},
        )
        no_zone = await client.post(
            f"/snapshots/{_MISSING_SNAPSHOT}/volume",
            data={"csrf": token, "zone": "", "client_token": "t2"},
        )
        gone = await client.post(f"/snapshots/{_MISSING_SNAPSHOT}/delete", data={"csrf": token})
    assert unknown.status_code == 400 and "(InvalidVolume.NotFound)" in unknown.text
    create_form = unknown.text.split('id="create-snapshot"')[1].split("</form>")[0]
    assert 'value="vol-0123456789abcdef0"' in create_form and 'value="kept &lt;i&gt;"' in (
        create_form
    )
    assert malformed.status_code == 400 and "(InvalidVolumeID.Malformed)" in malformed.text
    assert missing.status_code == 400 and "(InvalidSnapshot.NotFound)" in missing.text
    assert no_zone.status_code == 400 and "(MissingParameter)" in no_zone.text
    assert gone.status_code == 400 and "(InvalidSnapshot.NotFound)" in gone.text
    assert await running_compute(console).describe_snapshots(tenant, []) == []


# -- launch templates ------------------------------------------------------------------------


async def test_a_launch_templates_versions_and_a_launch_from_it(
    console: ConsoleHarness, tmp_path: Path
) -> None:
    compute = running_compute(console)
    image_id = await _image(console, tmp_path)
    async with console.client() as client:
        tenant = await sign_in_root(console, client)
        default_group = (await compute.default_network(tenant)).group.group_id
        empty = await client.get("/launch-templates")
        assert empty.status_code == 200 and "No launch templates." in empty.text
        # The launch page's choices.
        assert f"debian-12 ({image_id})" in empty.text
        assert '<option value="t2.nano">t2.nano (1 vCPU, 512 MiB)</option>' in empty.text
        assert f'<option value="{default_group}">' in empty.text

        created = await _create_template(
            client, "web-1", image_id, description="first <1>", security_group_id=[default_group]
        )
        assert created.status_code == 303, created.text
        template_id = created.headers["location"].rsplit("/", 1)[1]
        assert created.headers["location"] == f"/console/launch-templates/{template_id}"
        [held] = await compute.describe_launch_templates(tenant, [template_id], [])
        assert held.name == "web-1" and held.default_version == held.latest_version == 1
        _, [first] = await compute.launch_template_versions(tenant, TemplateRef(template_id))
        assert (first.get("ImageId"), first.get("InstanceType")) == (image_id, "t2.nano")
        assert first.get("SecurityGroupId.1") == default_group and first.description == "first <1>"
        listing = await client.get("/launch-templates")
        assert _TEMPLATE_ROW.findall(listing.text) == [template_id]
        row = _row(listing, f"launch-template-{template_id}")
        assert "web-1" in row and '<td class="default">1</td>' in row

        page = await client.get(f"/launch-templates/{template_id}")
        assert page.status_code == 200
        version = re.sub(r"\s+", " ", _row(page, "version-1"))
        assert (
            f"<td>first &lt;1&gt;</td> <td><code>{image_id}</code></td> <td>t2.nano</td>" in version
        )
        assert default_group in version and "Set as default" not in version
        # The new version form starts from the latest version's data.
        new_form = page.text.split('id="new-version"')[1].split("</form>")[0]
        assert f'<option value="{image_id}" selected>' in new_form
        assert f'<option value="{default_group}" selected>' in new_form

        token = csrf_of(page)
        second = await client.post(
            f"/launch-templates/{template_id}/versions",
            data={"csrf": token, "description": "larger", "image_id": image_id,
                  "instance_type": "t2.micro", "key_name": ""},
        )  # fmt: skip
        assert second.status_code == 303, second.text
        page = await client.get(f"/launch-templates/{template_id}")
        assert "Set as default" in _row(page, "version-2")
        assert "t2.micro" in _row(page, "version-2")
        made_default = await client.post(
            f"/launch-templates/{template_id}/default", data={"csrf": token, "version": "2"}
        )
        assert made_default.status_code == 303, made_default.text
        [held] = await compute.describe_launch_templates(tenant, [template_id], [])
        assert (held.default_version, held.latest_version) == (2, 2)
        page = await client.get(f"/launch-templates/{template_id}")
        assert "Set as default" in _row(page, "version-1")
        assert "Set as default" not in _row(page, "version-2")
        launch_form = page.text.split('id="launch-from-template"')[1].split("</form>")[0]
        assert '<option value="2" selected>2 (larger)</option>' in launch_form

        [client_token] = _client_tokens(page)
        launch = {"csrf": token, "version": "2", "client_token": client_token}
        launched = await client.post(f"/launch-templates/{template_id}/launch", data=launch)
        assert launched.status_code == 303, launched.text
        assert launched.headers["location"] == "/console/instances"
        resent = await client.post(f"/launch-templates/{template_id}/launch", data=launch)
        assert resent.status_code == 303, resent.text  # the same form: one instance
        await compute.settle()
        instances = await client.get("/instances")
        [instance_id] = _INSTANCE_ROW.findall(instances.text)
        row = re.sub(r"\s+", " ", _row(instances, f"instance-{instance_id}"))
        assert f"<td>t2.micro</td> <td><code>{image_id}</code></td>" in row
        [instance] = await compute.describe_instances(tenant, [instance_id])
        assert instance.instance_type == "t2.micro" and instance.image_id == image_id

        deleted = await client.post(f"/launch-templates/{template_id}/delete", data={"csrf": token})
        after = await client.get("/launch-templates")
        gone = await client.get(f"/launch-templates/{template_id}")
    assert deleted.status_code == 303 and deleted.headers["location"] == "/console/launch-templates"
    assert _TEMPLATE_ROW.findall(after.text) == []
    assert await compute.describe_launch_templates(tenant, [], []) == []
    assert gone.status_code == 400 and "(InvalidLaunchTemplateId.NotFound)" in gone.text
    assert 'id="new-version"' not in gone.text


async def test_refused_template_calls_show_ec2s_error(
    console: ConsoleHarness, tmp_path: Path
) -> None:
    compute = running_compute(console)
    image_id = await _image(console, tmp_path)
    async with console.client() as client:
        tenant = await sign_in_root(console, client)
        created = await _create_template(client, "web", image_id)
        template_id = created.headers["location"].rsplit("/", 1)[1]
        duplicate = await _create_template(client, "web", image_id, description="kept <i>")
        unnamed = await _create_template(client, "", image_id)
        no_data = await _create_template(client, "empty", "", instance_type="")
        token = await csrf(client, f"/launch-templates/{template_id}")
        no_version = await client.post(
            f"/launch-templates/{template_id}/default", data={"csrf": token, "version": "7"}
        )
        wrong_launch = await client.post(
            f"/launch-templates/{template_id}/launch",
            data={"csrf": token, "version": "9", "client_token": "t1"},
        )
        malformed = await client.get("/launch-templates/nonsense")
        missing = await client.post(
            f"/launch-templates/{_MISSING_TEMPLATE}/delete", data={"csrf": token}
        )
    assert duplicate.status_code == 400, duplicate.text
    assert "(InvalidLaunchTemplateName.AlreadyExistsException)" in duplicate.text
    create_form = duplicate.text.split('id="create-launch-template"')[1].split("</form>")[0]
    assert 'value="kept &lt;i&gt;"' in create_form and 'value="web"' in create_form
    assert unnamed.status_code == 400 and "(MissingParameter)" in unnamed.text
    assert no_data.status_code == 400 and "(MissingParameter)" in no_data.text
    assert no_version.status_code == 400
    assert "(InvalidLaunchTemplateId.VersionNotFound)" in no_version.text
    assert 'id="new-version"' in no_version.text  # the template's page, with EC2's refusal
    assert wrong_launch.status_code == 400
    assert "(InvalidLaunchTemplateId.VersionNotFound)" in wrong_launch.text
    assert malformed.status_code == 400 and "(InvalidLaunchTemplateId.Malformed)" in (
        malformed.text
    )
    assert missing.status_code == 400 and "(InvalidLaunchTemplateId.NotFound)" in missing.text
    assert [t.name for t in await compute.describe_launch_templates(tenant, [], [])] == ["web"]
    assert await compute.describe_instances(tenant, []) == []


# -- who may, and whose ----------------------------------------------------------------------


async def test_a_user_without_ec2_permissions_gets_ec2s_refusal(
    console: ConsoleHarness, tmp_path: Path
) -> None:
    tenant = console.admin_tenant_id
    image_id = await _image(console, tmp_path)
    volume_id = await _volume(console, tenant)
    await console.user_with_password(tenant, "intern")
    async with console.client() as client:
        assert (await log_in(client, "admin", "intern")).status_code == 303
        pages = {path: await client.get(path) for path in ("/snapshots", "/launch-templates")}
        token = await csrf(client, "/snapshots")
        changes = [
            await client.post("/snapshots", data={"csrf": token, "volume_id": volume_id}),
            await client.post(
                f"/snapshots/{_MISSING_SNAPSHOT}/volume",
                data={"csrf": token, "zone": "eu-fr-1a", "client_token": "t1"},
            ),
            await client.post(
                "/launch-templates",
                data={
                    "csrf": token,
                    "name": "web",
                    "image_id": image_id,
                    "instance_type": "t2.nano",
                },
            ),
        ]
    for path, page in pages.items():
        assert page.status_code == 403, path
        assert "(UnauthorizedOperation)" in page.text and ":user/intern" in page.text
    assert "ec2:DescribeSnapshots" in pages["/snapshots"].text
    assert "ec2:DescribeLaunchTemplates" in pages["/launch-templates"].text
    actions = ["ec2:CreateSnapshot", "ec2:CreateVolume", "ec2:CreateLaunchTemplate"]
    for answer, action in zip(changes, actions, strict=True):
        assert answer.status_code == 403 and action in answer.text, answer.text
    failures = [
        (e.action, e.details.get("status"))
        for e in await logged_events(console, tenant)
        if e.outcome is Outcome.FAILURE and e.action.startswith("ec2:")
    ]
    assert failures == [(action, "403") for action in actions]
    compute = running_compute(console)
    assert await compute.describe_snapshots(tenant, []) == []
    assert await compute.describe_launch_templates(tenant, [], []) == []


async def test_another_tenants_snapshots_and_templates_are_not_found(
    console: ConsoleHarness, tmp_path: Path
) -> None:
    compute = running_compute(console)
    image_id = await _image(console, tmp_path)
    async with console.client() as owner:
        tenant = await sign_in_root(console, owner)
        volume_id = await _volume(console, tenant)
        token = await csrf(owner, "/snapshots")
        await owner.post(
            "/snapshots", data={"csrf": token, "volume_id": volume_id, "description": "payroll"}
        )
        [snapshot] = await compute.describe_snapshots(tenant, [])
        created = await _create_template(owner, "payroll-web", image_id)
        template_id = created.headers["location"].rsplit("/", 1)[1]
    async with console.client() as intruder:
        intruder_tenant = await sign_in_root(console, intruder, account="intruder")
        token = await csrf(intruder, "/snapshots")
        snapshot_answers = [
            await intruder.post(f"/snapshots/{snapshot.snapshot_id}/delete", data={"csrf": token}),
            await intruder.post(
                f"/snapshots/{snapshot.snapshot_id}/volume",
                data={"csrf": token, "zone": "eu-fr-1a", "client_token": "t1"},
            ),
        ]
        their_volume = await intruder.post(
            "/snapshots", data={"csrf": token, "volume_id": volume_id}
        )
        template_answers = [
            await intruder.get(f"/launch-templates/{template_id}"),
            await intruder.post(f"/launch-templates/{template_id}/delete", data={"csrf": token}),
            await intruder.post(
                f"/launch-templates/{template_id}/default", data={"csrf": token, "version": "1"}
            ),
            await intruder.post(
                f"/launch-templates/{template_id}/launch",
                data={"csrf": token, "version": "1", "client_token": "t2"},
            ),
            await intruder.post(
                f"/launch-templates/{template_id}/versions",
                data={"csrf": token, "image_id": image_id, "instance_type": "t2.nano"},
            ),
        ]
        pages = [await intruder.get(path) for path in ("/snapshots", "/launch-templates")]
    for answer in snapshot_answers:
        assert answer.status_code == 400 and "(InvalidSnapshot.NotFound)" in answer.text
        assert "payroll" not in answer.text
    assert their_volume.status_code == 400 and "(InvalidVolume.NotFound)" in their_volume.text
    for answer in template_answers:
        assert answer.status_code == 400, answer.text
        assert "(InvalidLaunchTemplateId.NotFound)" in answer.text
        assert "payroll" not in answer.text
    for page in pages:
        assert page.status_code == 200
        for secret in (snapshot.snapshot_id, template_id, "payroll"):
            assert secret not in page.text
    assert await compute.describe_snapshots(tenant, [snapshot.snapshot_id])
    [held] = await compute.describe_launch_templates(tenant, [template_id], [])
    assert held.latest_version == 1
    assert await compute.describe_volumes(intruder_tenant, []) == []
    assert await compute.describe_instances(intruder_tenant, []) == []


async def test_forms_without_the_sessions_token_are_refused(
    console: ConsoleHarness, tmp_path: Path
) -> None:
    compute = running_compute(console)
    image_id = await _image(console, tmp_path)
    async with console.client() as client:
        tenant = await sign_in_root(console, client)
        volume_id = await _volume(console, tenant)
        template_id = (
            (await _create_template(client, "kept", image_id)).headers["location"].rsplit("/", 1)[1]
        )
        forged = "0" * len(await csrf(client, "/snapshots"))
        answers = [
            await client.post(path, data={"csrf": forged, **data})
            for path, data in [
                ("/snapshots", {"volume_id": volume_id}),
                (f"/snapshots/{_MISSING_SNAPSHOT}/delete", {}),
                (f"/snapshots/{_MISSING_SNAPSHOT}/volume", {"zone": "eu-fr-1a"}),
                ("/launch-templates", {"name": "forged", "image_id": image_id}),
                (f"/launch-templates/{template_id}/delete", {}),
                (f"/launch-templates/{template_id}/versions", {"image_id": image_id}),
                (f"/launch-templates/{template_id}/default", {"version": "1"}),
                (f"/launch-templates/{template_id}/launch", {"version": "1"}),
            ]
        ]
        no_token = await client.post(f"/launch-templates/{template_id}/delete")
    for answer in [*answers, no_token]:
        assert answer.status_code == 403 and "Form refused" in answer.text
    assert await compute.describe_snapshots(tenant, []) == []
    [held] = await compute.describe_launch_templates(tenant, [], [])
    assert (held.name, held.latest_version) == ("kept", 1)
    assert await compute.describe_instances(tenant, []) == []


async def test_the_pages_in_french(console: ConsoleHarness, tmp_path: Path) -> None:
    image_id = await _image(console, tmp_path)
    async with console.client(**{"accept-language": "fr-FR,fr;q=0.9"}) as client:
        await sign_in_root(console, client)
        instances = await client.get("/instances")
        snapshots = await client.get("/snapshots")
        templates = await client.get("/launch-templates")
        template_id = (
            (await _create_template(client, "web", image_id)).headers["location"].rsplit("/", 1)[1]
        )
        template = await client.get(f"/launch-templates/{template_id}")
        refused = await _create_template(client, "web", image_id)
    assert "Instantanés" in instances.text and "Modèles de lancement" in instances.text
    assert '<html lang="fr">' in snapshots.text and "Créer l\u2019instantané" in snapshots.text
    assert "Aucun instantané." in snapshots.text
    assert "Créer le modèle de lancement" in templates.text
    assert "Aucun modèle de lancement." in templates.text
    assert "Lancer à partir de ce modèle" in template.text and "Nouvelle version" in template.text
    # EC2's own message stays EC2's, its code shown.
    assert refused.status_code == 400 and '<html lang="fr">' in refused.text
    assert "(InvalidLaunchTemplateName.AlreadyExistsException)" in refused.text


async def test_a_server_without_ec2_says_so(console: ConsoleHarness) -> None:
    running = console.application._running
    assert running is not None
    running.console.console.ec2 = None
    async with console.client() as client:
        await sign_in_root(console, client)
        paths = ("/snapshots", "/launch-templates", f"/launch-templates/{_MISSING_TEMPLATE}")
        pages = [await client.get(path) for path in paths]
        token = await csrf(client, "/buckets")
        pages.append(await client.post("/snapshots", data={"csrf": token, "volume_id": "vol-1"}))
    for page in pages:
        assert page.status_code == 404 and "This server serves no EC2." in page.text
