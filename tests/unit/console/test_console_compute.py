"""The console's instances, volumes and key pairs pages: each action EC2's own call as the
signed-in user, so EC2's states, policies and errors answer, and EC2 audits them."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from andromede.audit.model import Outcome
from andromede.compute.driver_memory import MemoryDriver
from support.console import (
    ConsoleHarness,
    console_harness,
    csrf,
    csrf_of,
    log_in,
    logged_events,
    running_compute,
)

_INSTANCE_ROW = re.compile(r'<tr class="instance" id="instance-(i-[0-9a-f]+)">')
_VOLUME_ROW = re.compile(r'<tr class="volume" id="volume-(vol-[0-9a-f]+)">')
_KEY_PAIR_ID = re.compile(r"<code>(key-[0-9a-f]+)</code>")
_CLIENT_TOKEN = re.compile(r'name="client_token" value="([^"]+)"')


async def _image(console: ConsoleHarness, tmp_path: Path) -> str:
    """A public image, as an operator imports one."""
    disk = tmp_path / "disk.raw"
    disk.write_bytes(b"\0" * 4096)
    image = await running_compute(console).import_image_file(disk, name="debian-12", owner_id=None)
    return image.image_id


async def _root(console: ConsoleHarness, client: httpx.AsyncClient, account: str = "admin") -> None:
    tenant = (
        console.admin_tenant_id
        if account == "admin"
        else (await console.identity.create_tenant(account)).tenant.id
    )
    await console.user_with_password(tenant, "root")
    assert (await log_in(client, account, "root")).status_code == 303


async def _launch(
    client: httpx.AsyncClient, image: str, name: str, **extra: str | list[str]
) -> httpx.Response:
    """The launch form as the page renders it, sent with ``extra`` in place of its fields."""
    form = await client.get("/instances/launch")
    token = _CLIENT_TOKEN.search(form.text)
    assert token is not None, form.text
    data: dict[str, str | list[str]] = {
        "csrf": csrf_of(form),
        "client_token": token.group(1),
        "image_id": image,
        "instance_type": "t2.nano",
        "count": "1",
        "key_name": "",
        "subnet_id": "",
        "name": name,
        **extra,
    }
    return await client.post("/instances/launch", data=data)


def _instance_row(page: httpx.Response, instance_id: str) -> str:
    start = page.text.index(f'id="instance-{instance_id}"')
    return page.text[start : page.text.index("</tr>", start)]


def _volume_row(page: httpx.Response, volume_id: str) -> str:
    start = page.text.index(f'id="volume-{volume_id}"')
    return page.text[start : page.text.index("</tr>", start)]


def _buttons(row: str) -> list[str]:
    return re.findall(r"<button[^>]*>([^<]+)</button>", row)


async def test_an_instances_life(console: ConsoleHarness, tmp_path: Path) -> None:
    image_id = await _image(console, tmp_path)
    compute = running_compute(console)
    async with console.client() as client:
        await _root(console, client)
        empty = await client.get("/instances")
        assert empty.status_code == 200 and "No instances yet." in empty.text
        for link in ('href="/console/instances/launch"', 'href="/console/volumes"',
                     'href="/console/key-pairs"'):  # fmt: skip
            assert link in empty.text
        form = await client.get("/instances/launch")
        assert image_id in form.text and "debian-12" in form.text
        assert '<option value="t2.nano">t2.nano (1 vCPU, 512 MiB)</option>' in form.text

        launched = await _launch(client, image_id, "web-1")
        assert launched.status_code == 303, launched.text
        assert launched.headers["location"] == "/console/instances"
        await compute.settle()
        listing = await client.get("/instances")
        [instance_id] = _INSTANCE_ROW.findall(listing.text)
        row = _instance_row(listing, instance_id)
        assert "web-1" in row and ">running<" in row and image_id in row and "t2.nano" in row
        assert "eu-fr-1a" in row
        assert _buttons(row) == ["Stop", "Reboot", "Terminate"]

        async def act(operation: str) -> httpx.Response:
            token = await csrf(client, "/instances")
            answer: httpx.Response = await client.post(
                f"/instances/{instance_id}/{operation}", data={"csrf": token}
            )
            await compute.settle()
            return answer

        assert (await act("stop")).status_code == 303
        row = _instance_row(await client.get("/instances"), instance_id)
        assert ">stopped<" in row and _buttons(row) == ["Start", "Terminate"]
        assert (await act("start")).status_code == 303
        assert ">running<" in _instance_row(await client.get("/instances"), instance_id)
        assert (await act("reboot")).status_code == 303

        # What a guest prints reaches the page as text: escaped, and not UTF-8 replaced.
        [driver] = compute.drivers.values()
        assert isinstance(driver, MemoryDriver)
        driver.instances[instance_id].console += b"<script>alert(1)</script> \xff\n"
        detail = await client.get(f"/instances/{instance_id}")
        assert detail.status_code == 200 and "web-1" in detail.text
        output = detail.text.split('<pre id="console-output">', 1)[1].split("</pre>", 1)[0]
        assert "booted" in output  # GetConsoleOutput's base64, decoded
        # Its market and its CPU options (decision 0214): a t2.nano's one core of one thread.
        assert '<td id="market">On-Demand</td>' in detail.text
        assert '<td id="cpu-options">1 \u00d7 1 (cores \u00d7 threads per core)</td>' in detail.text
        assert "&lt;script&gt;alert(1)&lt;/script&gt; \ufffd" in output
        assert "<script>alert" not in detail.text

        assert (await act("terminate")).status_code == 303
        row = _instance_row(await client.get("/instances"), instance_id)
        assert ">terminated<" in row and _buttons(row) == []
        # A call the state does not allow is EC2's refusal, shown with EC2's status.
        again = await act("start")
    assert again.status_code == 400
    assert "IncorrectInstanceState" in again.text and 'role="alert"' in again.text


async def test_a_launch_sent_twice_starts_one_instance(
    console: ConsoleHarness, tmp_path: Path
) -> None:
    image_id = await _image(console, tmp_path)
    async with console.client() as client:
        await _root(console, client)
        form = await client.get("/instances/launch")
        token = _CLIENT_TOKEN.search(form.text)
        assert token is not None
        data = {"csrf": csrf_of(form), "client_token": token.group(1), "image_id": image_id,
                "instance_type": "t2.nano", "count": "1", "name": "once"}  # fmt: skip
        first = await client.post("/instances/launch", data=data)
        second = await client.post("/instances/launch", data=data)
        listing = await client.get("/instances")
    assert first.status_code == second.status_code == 303
    assert len(_INSTANCE_ROW.findall(listing.text)) == 1


async def test_a_launch_with_a_key_pair_and_groups(console: ConsoleHarness, tmp_path: Path) -> None:
    image_id = await _image(console, tmp_path)
    compute = running_compute(console)
    tenant = console.admin_tenant_id
    web = await compute.create_security_group(tenant, "web", "web servers", (), None)
    ssh = await compute.create_security_group(tenant, "ssh", "ssh in", (), None)
    async with console.client() as client:
        await _root(console, client)
        token = await csrf(client, "/key-pairs")
        created = await client.post(
            "/key-pairs", data={"csrf": token, "name": "deploy", "key_type": "ed25519"}
        )
        assert created.status_code == 200
        form = await client.get("/instances/launch")
        assert '<option value="deploy">deploy</option>' in form.text
        assert web.group_id in form.text and "ssh (" in form.text
        launched = await _launch(
            client,
            image_id,
            "bastion <b>",
            key_name="deploy",
            security_group_id=[web.group_id, ssh.group_id],
        )
        assert launched.status_code == 303, launched.text
        [instance_id] = _INSTANCE_ROW.findall((await client.get("/instances")).text)
        detail = await client.get(f"/instances/{instance_id}")
        # More security groups than AWS puts on an interface: past the form's bound, a 400.
        crowded = await _launch(client, image_id, "crowded", security_group_id=["sg-1"] * 17)
    assert "deploy" in detail.text
    assert f"{web.group_id} (web)" in detail.text and f"{ssh.group_id} (ssh)" in detail.text
    assert "Name = bastion &lt;b&gt;" in detail.text and "bastion <b>" not in detail.text
    assert crowded.status_code == 400


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"count": "many"}, "InvalidParameterValue"),
        ({"count": ""}, "InvalidParameterValue"),
        ({"count": "0"}, "InvalidParameterValue"),
        ({"count": "50"}, "InstanceLimitExceeded"),
        ({"instance_type": "t9.mega"}, "InvalidParameterValue"),
        ({"image_id": "ami-0123456789abcdef0"}, "InvalidAMIID.NotFound"),
        ({"key_name": "nope"}, "InvalidKeyPair.NotFound"),
        ({"subnet_id": "subnet-0123456789abcdef0"}, "InvalidSubnetID.NotFound"),
    ],
)
async def test_a_refused_launch_shows_ec2s_error_and_the_form_again(
    console: ConsoleHarness, tmp_path: Path, fields: dict[str, str], code: str
) -> None:
    image_id = await _image(console, tmp_path)
    async with console.client() as client:
        await _root(console, client)
        refused = await _launch(client, image_id, "kept-name", **fields)
        listing = await client.get("/instances")
    assert refused.status_code == 400, refused.text
    assert f"({code})" in refused.text
    assert 'action="/console/instances/launch"' in refused.text
    assert 'value="kept-name"' in refused.text
    assert _INSTANCE_ROW.findall(listing.text) == []


async def test_instances_are_paged_by_the_setting(tmp_path: Path) -> None:
    async with console_harness(tmp_path, console_page_size=5) as console:
        image_id = await _image(console, tmp_path)
        async with console.client() as client:
            await _root(console, client)
            assert (await _launch(client, image_id, "fleet", count="6")).status_code == 303
            first = await client.get("/instances")
            next_url = re.search(r'href="/console(/instances\?token=[^"]+)" rel="next"', first.text)
            assert next_url is not None, first.text
            second = await client.get(next_url.group(1).replace("&amp;", "&"))
    shown = _INSTANCE_ROW.findall(first.text) + _INSTANCE_ROW.findall(second.text)
    assert len(_INSTANCE_ROW.findall(first.text)) == 5 and len(set(shown)) == 6
    assert 'rel="next"' not in second.text


async def test_volumes_create_attach_detach_delete(console: ConsoleHarness, tmp_path: Path) -> None:
    image_id = await _image(console, tmp_path)
    compute = running_compute(console)
    async with console.client() as client:
        await _root(console, client)
        await _launch(client, image_id, "db")
        await compute.settle()
        [instance_id] = _INSTANCE_ROW.findall((await client.get("/instances")).text)
        page = await client.get("/volumes")
        # The instance's root volume, listed as EC2 lists it: in use, nothing to act on.
        [root_volume] = _VOLUME_ROW.findall(page.text)
        row = _volume_row(page, root_volume)
        assert ">in-use<" in row and instance_id in row and _buttons(row) == ["Detach"]
        assert '<option value="eu-fr-1a">' in page.text
        assert f'<option value="{instance_id}">db (eu-fr-1a, running)</option>' in page.text
        token = _CLIENT_TOKEN.search(page.text)
        assert token is not None
        created = await client.post(
            "/volumes",
            data={"csrf": csrf_of(page), "client_token": token.group(1), "size": "3",
                  "zone": "eu-fr-1a", "name": "pgdata"},
        )  # fmt: skip
        assert created.status_code == 303, created.text
        await compute.settle()
        listing = await client.get("/volumes")
        [volume_id] = set(_VOLUME_ROW.findall(listing.text)) - {root_volume}
        row = _volume_row(listing, volume_id)
        assert "pgdata" in row and "<td>3</td>" in row and ">available<" in row
        assert _buttons(row) == ["Attach", "Delete"]

        form = {"csrf": csrf_of(listing)}
        attached = await client.post(
            f"/volumes/{volume_id}/attach",
            data={**form, "instance_id": instance_id, "device": "/dev/sdf"},
        )
        assert attached.status_code == 303, attached.text
        await compute.settle()
        row = _volume_row(await client.get("/volumes"), volume_id)
        assert ">in-use<" in row and instance_id in row and "/dev/sdf" in row
        assert _buttons(row) == ["Detach"]
        detail = await client.get(f"/instances/{instance_id}")
        assert f"/dev/sdf <code>{volume_id}</code>" in detail.text

        busy = await client.post(f"/volumes/{volume_id}/delete", data=form)
        assert busy.status_code == 400 and "(VolumeInUse)" in busy.text
        detached = await client.post(f"/volumes/{volume_id}/detach", data=form)
        assert detached.status_code == 303, detached.text
        await compute.settle()
        assert ">available<" in _volume_row(await client.get("/volumes"), volume_id)
        deleted = await client.post(f"/volumes/{volume_id}/delete", data=form)
        assert deleted.status_code == 303, deleted.text
        await compute.settle()
        gone = await client.get("/volumes")
        not_a_size = await client.post(
            "/volumes", data={**form, "client_token": "t", "size": "lots", "zone": "eu-fr-1a"}
        )
    assert _VOLUME_ROW.findall(gone.text) == [root_volume]
    assert not_a_size.status_code == 400 and "(InvalidParameterValue)" in not_a_size.text


async def test_volumes_are_paged_by_the_setting(tmp_path: Path) -> None:
    """EC2's pages of ``console_page_size`` volumes (DescribeVolumes takes 5 at least)."""
    async with console_harness(tmp_path, console_page_size=5) as console, console.client() as c:
        await _root(console, c)
        for number in range(6):
            page = await c.get("/volumes")
            token = _CLIENT_TOKEN.search(page.text)
            assert token is not None
            made = await c.post(
                "/volumes",
                data={"csrf": csrf_of(page), "client_token": token.group(1), "size": "1",
                      "zone": "eu-fr-1a", "name": f"v{number}"},
            )  # fmt: skip
            assert made.status_code == 303, made.text
        first = await c.get("/volumes")
        next_url = re.search(r'href="/console(/volumes\?token=[^"]+)" rel="next"', first.text)
        assert next_url is not None, first.text
        second = await c.get(next_url.group(1))
    shown = _VOLUME_ROW.findall(first.text) + _VOLUME_ROW.findall(second.text)
    assert len(_VOLUME_ROW.findall(first.text)) == 5 and len(set(shown)) == 6
    assert shown == sorted(shown) and 'rel="next"' not in second.text


async def test_key_pairs_the_private_key_shown_once(
    console: ConsoleHarness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    public = (
        ed25519.Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        .decode()
    )
    async with console.client() as client:
        await _root(console, client)
        token = await csrf(client, "/key-pairs")
        created = await client.post(
            "/key-pairs", data={"csrf": token, "name": "laptop", "key_type": "rsa"}
        )
        listing = await client.get("/key-pairs")
        duplicate = await client.post(
            "/key-pairs", data={"csrf": token, "name": "laptop", "key_type": "rsa"}
        )
        imported = await client.post(
            "/key-pairs/import", data={"csrf": token, "name": "desk", "public_key": public + "\n"}
        )
        not_a_key = await client.post(
            "/key-pairs/import", data={"csrf": token, "name": "bad", "public_key": "hello"}
        )
        both = await client.get("/key-pairs")
        deleted = [
            await client.post(f"/key-pairs/{key_pair_id}/delete", data={"csrf": token})
            for key_pair_id in _KEY_PAIR_ID.findall(both.text)
        ]
        after = await client.get("/key-pairs")
    assert created.status_code == 200
    assert created.headers["cache-control"] == "no-store"
    private = created.text.split('<pre id="private-key">', 1)[1].split("</pre>", 1)[0]
    assert private.startswith("-----BEGIN") and "PRIVATE KEY-----" in private
    body = private.splitlines()[1]  # a line of the key itself
    assert 'id="private-key-warning"' in created.text and "will not be shown again" in created.text
    assert "laptop" in listing.text and body not in listing.text
    assert duplicate.status_code == 400 and "(InvalidKeyPair.Duplicate)" in duplicate.text
    assert imported.status_code == 303, imported.text
    assert not_a_key.status_code == 400 and "(InvalidParameterValue)" in not_a_key.text
    assert "desk" in both.text and len(_KEY_PAIR_ID.findall(both.text)) == 2
    assert [d.status_code for d in deleted] == [303, 303]
    assert "No key pairs yet." in after.text
    # Never logged, never in the trail.
    assert body not in caplog.text
    events = await logged_events(console, console.admin_tenant_id)
    assert "ec2:CreateKeyPair" in {e.action for e in events}
    assert all(body not in json.dumps(e.details) for e in events)


async def test_a_user_without_ec2_permissions_gets_ec2s_refusal(
    console: ConsoleHarness, tmp_path: Path
) -> None:
    image_id = await _image(console, tmp_path)
    tenant = console.admin_tenant_id
    await console.user_with_password(tenant, "intern")
    async with console.client() as client:
        assert (await log_in(client, "admin", "intern")).status_code == 303
        pages = {path: await client.get(path) for path in ("/instances", "/volumes", "/key-pairs")}
        launch_form = await client.get("/instances/launch")
        launched = await _launch(client, image_id, "nope")
    for path, page in pages.items():
        assert page.status_code == 403, path
        assert "(UnauthorizedOperation)" in page.text and ":user/intern" in page.text
    assert "ec2:DescribeInstances" in pages["/instances"].text
    assert launch_form.status_code == 403 and "ec2:DescribeImages" in launch_form.text
    # The launch's own refusal is shown, not the form's lists'.
    assert launched.status_code == 403 and "ec2:RunInstances" in launched.text
    failures = [
        (e.action, e.details.get("status"))
        for e in await logged_events(console, tenant)
        if e.outcome is Outcome.FAILURE and e.action.startswith("ec2:")
    ]
    assert failures == [("ec2:RunInstances", "403")]
    assert await running_compute(console).describe_instances(tenant, []) == []


async def test_a_user_allowed_by_policy_may_list_but_not_launch(
    console: ConsoleHarness, tmp_path: Path
) -> None:
    image_id = await _image(console, tmp_path)
    tenant = console.admin_tenant_id
    await console.user_with_password(tenant, "viewer")
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "ec2:Describe*", "Resource": "*"}],
    }
    await console.identity.put_user_policy(tenant, "viewer", "read", json.dumps(policy))
    async with console.client() as client:
        assert (await log_in(client, "admin", "viewer")).status_code == 303
        listing = await client.get("/instances")
        form = await client.get("/instances/launch")
        launched = await _launch(client, image_id, "nope")
    assert listing.status_code == 200 and "No instances yet." in listing.text
    assert form.status_code == 200 and image_id in form.text
    assert launched.status_code == 403 and "ec2:RunInstances" in launched.text


async def test_another_tenants_instance_is_not_found(
    console: ConsoleHarness, tmp_path: Path
) -> None:
    image_id = await _image(console, tmp_path)
    compute = running_compute(console)
    async with console.client() as owner:
        await _root(console, owner)
        await _launch(owner, image_id, "secret-web")
        await compute.settle()
        [instance_id] = _INSTANCE_ROW.findall((await owner.get("/instances")).text)
    [theirs] = await compute.describe_instances(console.admin_tenant_id, [instance_id])
    assert theirs.private_ip
    async with console.client() as intruder:
        await _root(console, intruder, account="intruder")
        detail = await intruder.get(f"/instances/{instance_id}")
        token = await csrf(intruder, "/instances")
        terminate = await intruder.post(f"/instances/{instance_id}/terminate", data={"csrf": token})
        listing = await intruder.get("/instances")
        volumes = await intruder.get("/volumes")
    for answer in (detail, terminate):
        assert answer.status_code == 400
        assert "(InvalidInstanceID.NotFound)" in answer.text
        assert "secret-web" not in answer.text and theirs.private_ip not in answer.text
    assert instance_id not in listing.text and "No instances yet." in listing.text
    assert instance_id not in volumes.text
    [still] = await compute.describe_instances(console.admin_tenant_id, [instance_id])
    assert still.state.value == "running"


async def test_forms_without_the_sessions_token_are_refused(
    console: ConsoleHarness, tmp_path: Path
) -> None:
    image_id = await _image(console, tmp_path)
    compute = running_compute(console)
    async with console.client() as client:
        await _root(console, client)
        await _launch(client, image_id, "kept")
        await compute.settle()
        [instance_id] = _INSTANCE_ROW.findall((await client.get("/instances")).text)
        forged = "0" * len(await csrf(client, "/instances"))
        answers = [
            await client.post(path, data={"csrf": forged, **data})
            for path, data in [
                ("/instances/launch", {"image_id": image_id, "instance_type": "t2.nano",
                                       "count": "1", "client_token": "forged"}),
                (f"/instances/{instance_id}/terminate", {}),
                ("/volumes", {"size": "1", "zone": "eu-fr-1a", "client_token": "forged"}),
                ("/key-pairs", {"name": "forged", "key_type": "rsa"}),
                ("/key-pairs/import", {"name": "forged", "public_key": "ssh-ed25519 AAAA"}),
            ]
        ]  # fmt: skip
        key_pairs = await client.get("/key-pairs")
        volumes = await client.get("/volumes")
    for answer in answers:
        assert answer.status_code == 403 and "Form refused" in answer.text
    [still] = await compute.describe_instances(console.admin_tenant_id, [])
    assert still.instance_id == instance_id and still.state.value == "running"
    assert "forged" not in key_pairs.text and "No key pairs yet." in key_pairs.text
    assert len(_VOLUME_ROW.findall(volumes.text)) == 1  # the instance's root volume only


async def test_the_pages_in_french(console: ConsoleHarness, tmp_path: Path) -> None:
    image_id = await _image(console, tmp_path)
    async with console.client(**{"accept-language": "fr-FR,fr;q=0.9"}) as client:
        await _root(console, client)
        empty = await client.get("/instances")
        launch_form = await client.get("/instances/launch")
        await _launch(client, image_id, "web")
        await running_compute(console).settle()
        listing = await client.get("/instances")
        volumes = await client.get("/volumes")
        key_pairs = await client.get("/key-pairs")
        token = await csrf(client, "/key-pairs")
        created = await client.post(
            "/key-pairs", data={"csrf": token, "name": "clé", "key_type": "ed25519"}
        )
    assert '<html lang="fr">' in empty.text and "Aucune instance pour l\u2019instant." in empty.text
    assert "Lancer une instance" in empty.text and "Paires de clés" in empty.text
    assert "Type d\u2019instance" in launch_form.text
    assert "Sous-réseau par défaut" in launch_form.text
    assert "Arrêter" in listing.text and "Résilier" in listing.text
    assert "Créer le volume" in volumes.text and "Zone de disponibilité" in volumes.text
    assert "Importer la paire de clés" in key_pairs.text
    assert "ne sera plus affichée" in created.text


async def test_a_server_without_ec2_says_so(console: ConsoleHarness) -> None:
    running = console.application._running
    assert running is not None
    running.console.console.ec2 = None
    async with console.client() as client:
        await _root(console, client)
        pages = [await client.get(path) for path in ("/instances", "/volumes", "/key-pairs")]
        pages.append(await client.get("/instances/launch"))
        pages.append(await client.get("/instances/i-0123456789abcdef0"))
        token = await csrf(client, "/instances")
        pages.append(await client.post("/key-pairs", data={"csrf": token, "name": "k"}))
    for page in pages:
        assert page.status_code == 404 and "This server serves no EC2." in page.text
