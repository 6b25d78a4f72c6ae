"""A launch template's network interfaces in an Auto Scaling group's launches (decision 0161's
addendum): the primary's subnet, groups and public address are the launch's; an interface
beyond the primary is refused by name (the group's launch path attaches none yet)."""

from __future__ import annotations

import pytest

from andromede.autoscaling.fleet import LaunchFailed
from andromede.autoscaling_adapters import run_request

_PRIMARY = {
    "ImageId": "ami-0123456789abcdef0",
    "NetworkInterface.1.DeviceIndex": "0",
    "NetworkInterface.1.SubnetId": "subnet-0123456789abcdef0",
    "NetworkInterface.1.SecurityGroupId.1": "sg-0123456789abcdef0",
    "NetworkInterface.1.AssociatePublicIpAddress": "false",
}


def test_the_templates_primary_interface_is_the_launchs() -> None:
    request = run_request(dict(_PRIMARY), "lt-0123456789abcdef0", 1, None, ())
    assert request.subnet_id == "subnet-0123456789abcdef0"
    assert request.security_group_ids == ("sg-0123456789abcdef0",)
    assert request.associate_public_ip is False
    # The group's own subnet (its VPCZoneIdentifier) wins, as on AWS.
    chosen = run_request(dict(_PRIMARY), "lt-0123456789abcdef0", 1, "subnet-0fedcba987654321f", ())
    assert chosen.subnet_id == "subnet-0fedcba987654321f"


def test_an_interface_beyond_the_primary_is_refused_by_name() -> None:
    params = {**_PRIMARY, "NetworkInterface.2.DeviceIndex": "1"}
    with pytest.raises(LaunchFailed, match=r"NetworkInterface\.2\.DeviceIndex"):
        run_request(params, "lt-0123456789abcdef0", 1, None, ())
