"""Public DNS names on the console's instance pages (decision 0151): the list and an
instance's page show DescribeInstances' ``PublicDnsName`` as EC2 answers it to the signed-in
user, and nothing when EC2 gives none (no ``public_dns_domain``)."""

from __future__ import annotations

from pathlib import Path

from andromede.compute.service import RunRequest
from support.console import ConsoleHarness, console_harness, running_compute, sign_in_root


async def _running(console: ConsoleHarness, tmp_path: Path, tenant: str) -> tuple[str, str]:
    """A running instance in the tenant's default subnet: its id and public address."""
    compute = running_compute(console)
    disk = tmp_path / "disk.raw"
    disk.write_bytes(b"\0" * 4096)
    image = await compute.import_image_file(disk, name="debian-12", owner_id=None)
    [instance] = await compute.run_instances(tenant, RunRequest(image.image_id, "t3.nano"))
    await compute.settle()
    [held] = await compute.describe_instances(tenant, [instance.instance_id])
    assert held.public_ip, held
    return instance.instance_id, held.public_ip


async def test_the_list_and_the_page_show_the_public_dns_name(tmp_path: Path) -> None:
    async with (
        console_harness(tmp_path, public_dns_domain="cloud.example.fr") as console,
        console.client() as client,
    ):
        tenant = await sign_in_root(console, client)
        instance_id, address = await _running(console, tmp_path, tenant)
        name = f"ec2-{address.replace('.', '-')}.eu-fr-1.compute.cloud.example.fr"
        listed = await client.get("/instances")
        detail = await client.get(f"/instances/{instance_id}")
    assert listed.status_code == 200, listed.text
    start = listed.text.index(f'id="instance-{instance_id}"')
    row = listed.text[start : listed.text.index("</tr>", start)]
    assert f'<small class="public-dns">{name}</small>' in row
    assert detail.status_code == 200, detail.text
    assert f'<td id="public-dns">{name}</td>' in detail.text


async def test_no_name_without_the_operators_domain(tmp_path: Path) -> None:
    async with console_harness(tmp_path) as console, console.client() as client:
        tenant = await sign_in_root(console, client)
        instance_id, _ = await _running(console, tmp_path, tenant)
        listed = await client.get("/instances")
        detail = await client.get(f"/instances/{instance_id}")
    assert 'class="public-dns"' not in listed.text
    assert '<td id="public-dns">-</td>' in detail.text


async def test_the_french_page_names_it(tmp_path: Path) -> None:
    async with (
        console_harness(tmp_path) as console,
        console.client(**{"accept-language": "fr"}) as client,
    ):
        tenant = await sign_in_root(console, client)
        instance_id, _ = await _running(console, tmp_path, tenant)
        detail = await client.get(f"/instances/{instance_id}")
    assert "Nom DNS public" in detail.text
