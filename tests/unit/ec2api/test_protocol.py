"""EC2's flattened parameters, as botocore's ``ec2`` serializer writes them."""

from __future__ import annotations

from typing import Any

import botocore.session
import pytest
from botocore.serialize import create_serializer

from andromede.ec2api.errors import Ec2Error
from andromede.ec2api.filters import Filters, matches
from andromede.ec2api.protocol import Params, iso8601

_MODEL = botocore.session.get_session().get_service_model("ec2")


def serialised(operation: str, **params: Any) -> Params:
    request = create_serializer("ec2").serialize_to_request(
        params, _MODEL.operation_model(operation)
    )
    return Params({k: str(v) for k, v in request["body"].items()})


def test_lists_filters_and_tag_specifications() -> None:
    p = serialised(
        "RunInstances",
        ImageId="ami-1",
        MinCount=1,
        MaxCount=2,
        SecurityGroupIds=["sg-a", "sg-b"],
        TagSpecifications=[
            {"ResourceType": "instance", "Tags": [{"Key": "a", "Value": "1"}]},
            {"ResourceType": "volume", "Tags": [{"Key": "v", "Value": ""}]},
        ],
    )
    assert p.values("SecurityGroupId") == ["sg-a", "sg-b"]
    assert p.tag_specifications("instance") == (("a", "1"),)
    assert p.tag_specifications("volume") == (("v", ""),)
    assert p.integer("MaxCount") == 2
    d = serialised(
        "DescribeInstances",
        Filters=[{"Name": "tag:x", "Values": ["1", "2"]}, {"Name": "instance-type", "Values": []}],
    )
    assert d.filters() == {"tag:x": ["1", "2"], "instance-type": []}


def test_nested_structures() -> None:
    p = serialised(
        "AuthorizeSecurityGroupIngress",
        GroupId="sg-1",
        IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 1, "ToPort": 2,
             "IpRanges": [{"CidrIp": "10.0.0.0/8"}, {"CidrIp": "10.1.0.0/16"}]},
        ],
    )  # fmt: skip
    [perm] = p.structs("IpPermissions")
    assert [r.get("CidrIp") for r in perm.structs("IpRanges")] == ["10.0.0.0/8", "10.1.0.0/16"]
    assert perm.integer("FromPort") == 1


def test_bad_values_are_ec2_errors() -> None:
    p = Params({"MaxResults": "x", "Flag": "maybe", "Count": "9"})
    for call in (lambda: p.integer("MaxResults"), lambda: p.boolean("Flag", default=False),
                 lambda: p.integer("Count", maximum=5), lambda: p.required("Absent")):  # fmt: skip
        with pytest.raises(Ec2Error):
            call()


def test_filters_match_with_wildcards() -> None:
    filters: Filters[str] = Filters(
        {"name": ["web-*", "db?"]}, lambda n: (lambda r: [r]) if n == "name" else None
    )
    assert matches(filters, "web-1")
    assert matches(filters, "db1")
    assert not matches(filters, "cache")
    with pytest.raises(Ec2Error):
        Filters({"nope": ["x"]}, lambda n: None)


def test_timestamps_have_milliseconds() -> None:
    from datetime import UTC, datetime

    assert iso8601(datetime(2026, 1, 2, 3, 4, 5, 678900, tzinfo=UTC)) == "2026-01-02T03:04:05.678Z"
