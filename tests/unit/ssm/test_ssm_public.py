"""Decision 0241's public parameters: the paths each public image is published under, and the
newest image holding a path several claim."""

from __future__ import annotations

from datetime import UTC, datetime

from andromede.ssm.public import PublicImage, is_public, public_parameters

OLD = datetime(2026, 1, 1, tzinfo=UTC)
NEW = datetime(2026, 6, 1, tzinfo=UTC)


def test_each_image_under_the_library_and_debian_under_its_own_paths() -> None:
    published = public_parameters("eu-fr-1", [
        PublicImage("ami-0000000000000000a", "debian-12-genericcloud", "x86_64", OLD),
        PublicImage("ami-0000000000000000b", "Ubuntu 24.04 (noble)", "x86_64", OLD),
        PublicImage("ami-0000000000000000c", "debian-13", "arm64", OLD),
        PublicImage("ami-0000000000000000d", "debian-12", "riscv64", OLD),
    ])  # fmt: skip
    assert {n: v.sealed.decode() for n, v in published.items()} == {
        "/aws/service/andromede/images/debian-12-genericcloud": "ami-0000000000000000a",
        "/aws/service/andromede/images/Ubuntu-24.04-noble": "ami-0000000000000000b",
        "/aws/service/andromede/images/debian-13": "ami-0000000000000000c",
        "/aws/service/andromede/images/debian-12": "ami-0000000000000000d",
        "/aws/service/debian/release/12/latest/amd64": "ami-0000000000000000a",
        "/aws/service/debian/release/bookworm/latest/amd64": "ami-0000000000000000a",
        "/aws/service/debian/release/13/latest/arm64": "ami-0000000000000000c",
        "/aws/service/debian/release/trixie/latest/arm64": "ami-0000000000000000c",
    }
    version = published["/aws/service/debian/release/12/latest/amd64"]
    assert (
        version.arn == "arn:aws:ssm:eu-fr-1::parameter/aws/service/debian/release/12/latest/amd64"
    )
    assert (version.type, version.data_type, version.version) == ("String", "aws:ec2:image", 1)
    assert version.modified == OLD and is_public(version.name)


def test_the_newest_image_holds_a_shared_path() -> None:
    published = public_parameters("r", [
        PublicImage("ami-0000000000000000b", "debian-12", "x86_64", NEW),
        PublicImage("ami-0000000000000000a", "debian-12-genericcloud", "x86_64", OLD),
    ])  # fmt: skip
    latest = published["/aws/service/debian/release/12/latest/amd64"]
    assert latest.sealed == b"ami-0000000000000000b" and latest.modified == NEW
    assert not is_public("/app/aws/service/x")
