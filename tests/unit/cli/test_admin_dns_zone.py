"""``andromede admin dns zone`` (decision 0151): the public DNS names of every tenant's
instances, as the operator's authoritative DNS loads them — A records under
``<region>.compute.<public_dns_domain>`` (a whole zone with ``--ns``), PTR records with
``--reverse``; refused while the setting is empty. Driven through typer's runner on a
temporary data folder whose records are written with the SQL store."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from typer.testing import CliRunner

from andromede.cli.main import app
from andromede.compute.model import ElasticIpRef, Instance, InstanceState
from andromede.compute.network import Vpc
from andromede.compute.store_sql import SqlComputeStore
from andromede.db.database import open_database
from andromede.settings import load_settings

DOMAIN = "cloud.example.fr"
ENV = {"ANDROMEDE_PUBLIC_DNS_DOMAIN": DOMAIN}


def _zone(data_dir: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(
        app, ["admin", "dns", "zone", *args, "--data-dir", str(data_dir)], env=env or ENV
    )
    return result.exit_code, result.stdout, result.stderr


def _instance(instance_id: str, vpc_id: str, **fields: object) -> Instance:
    running = Instance(
        instance_id=instance_id, tenant_id="111122223333", reservation_id="r-1",
        image_id="ami-1", instance_type="t3.nano", state=InstanceState.RUNNING, host="h",
        launch_time=datetime.now(UTC), root_volume_id="vol-1", availability_zone="eu-fr-1a",
        vcpus=1, memory_mib=512, vpc_id=vpc_id, private_ip="172.31.0.9",
    )  # fmt: skip
    return replace(running, **fields)


def _store_records(data_dir: Path) -> str:
    async def work() -> str:
        settings = load_settings(data_dir=data_dir)
        db = open_database(settings.effective_database_url)
        try:
            store = SqlComputeStore(db)
            named = Vpc("vpc-aaaa0001", "111122223333", "172.31.0.0/16", is_default=True)
            unnamed = Vpc("vpc-aaaa0002", "111122223333", "10.9.0.0/16", is_default=False)
            eip = ElasticIpRef("eipalloc-1", "eipassoc-1", "100.66.0.12")
            await store.insert(
                named, unnamed,
                _instance("i-0000000000000001", named.vpc_id, public_ip="100.65.0.3"),
                _instance("i-0000000000000002", named.vpc_id, elastic_ip=eip),
                # Stopped (no address), and one's own VPC without hostnames: no name.
                _instance("i-0000000000000003", named.vpc_id, state=InstanceState.STOPPED),
                _instance("i-0000000000000004", unnamed.vpc_id, public_ip="100.65.0.4"),
            )  # fmt: skip
        finally:
            await db.close()
        return settings.region

    return asyncio.run(work())


def test_the_zone_lists_every_public_name(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    code, out, _ = _zone(data_dir)  # migrates the new data folder: no names yet
    assert code == 0 and " IN A " not in out
    region = _store_records(data_dir)
    suffix = f"{region}.compute.{DOMAIN}"
    code, out, err = _zone(data_dir, "--ttl", "30")
    assert code == 0, err
    assert out.splitlines()[1:] == [
        f"$ORIGIN {suffix}.",
        "$TTL 30",
        "ec2-100-65-0-3 IN A 100.65.0.3",
        "ec2-100-66-0-12 IN A 100.66.0.12",
    ]
    assert "2 public name(s)" in err
    code, out, _ = _zone(data_dir, "--ns", "ns1.example.fr", "--ns", "ns2.example.fr.")
    lines = out.splitlines()
    assert lines[3].startswith(f"@ IN SOA ns1.example.fr. hostmaster.{suffix}. ")
    assert lines[4:] == [
        "@ IN NS ns1.example.fr.",
        "@ IN NS ns2.example.fr.",
        "ec2-100-65-0-3 IN A 100.65.0.3",
        "ec2-100-66-0-12 IN A 100.66.0.12",
    ]
    code, out, _ = _zone(data_dir, "--reverse")
    assert out.splitlines()[1:] == [
        f"3.0.65.100.in-addr.arpa. 60 IN PTR ec2-100-65-0-3.{suffix}.",
        f"12.0.66.100.in-addr.arpa. 60 IN PTR ec2-100-66-0-12.{suffix}.",
    ]


def test_without_the_domain_there_is_no_zone(tmp_path: Path) -> None:
    code, out, err = _zone(tmp_path / "data", env={"ANDROMEDE_PUBLIC_DNS_DOMAIN": ""})
    assert code == 2 and out == ""
    assert "public_dns_domain is not set" in err
