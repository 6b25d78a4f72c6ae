"""Decision 0229's pure rules: names, paths, labels, selectors, data types and the
ParameterFilters' checks and matching."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from andromede.ssm.errors import (
    HierarchyLevelLimitExceeded,
    InvalidFilterKey,
    InvalidFilterOption,
    InvalidFilterValue,
    ReservedName,
    ValidationError,
)
from andromede.ssm.model import (
    Parameter,
    ParameterFilter,
    ParameterType,
    ParameterVersion,
    Tier,
    check_data_type,
    check_name,
    check_path,
    invalid_label,
    matches,
    parameter_arn,
    split_selector,
)
from andromede.ssm.service import name_of


@pytest.mark.parametrize(
    "name", ["db-url", "/a/b/c", "a.b_c-d", "/" + "/".join(["x"] * 15), "/" + "a" * 2047]
)
def test_names_aws_accepts(name: str) -> None:
    check_name(name)


@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("aws-x", ValidationError),
        ("/SSM/x", ValidationError),
        ("/aws/service/x", ReservedName),
        ("a/b", ValidationError),
        ("/a//b", ValidationError),
        ("/a b", ValidationError),
        ("/a/b*", ValidationError),
        ("/", ValidationError),
        ("/" + "/".join(["x"] * 16), HierarchyLevelLimitExceeded),
    ],
)
def test_names_aws_refuses(name: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        check_name(name)


def test_arns_drop_the_leading_slash_and_names_come_back() -> None:
    assert parameter_arn("r", "1", "/a/b") == "arn:aws:ssm:r:1:parameter/a/b"
    assert parameter_arn("r", "1", "a") == "arn:aws:ssm:r:1:parameter/a"
    assert name_of("arn:aws:ssm:r:1:parameter/a/b") == "/a/b"
    assert name_of("arn:aws:ssm:r:1:parameter/a") == "a"
    assert name_of("arn:aws:ssm:r:1:parameter/a/b:3") == "/a/b:3"
    assert name_of("/x") == "/x"


def test_paths_selectors_labels_and_data_types() -> None:
    assert check_path("/a/b") == "/a/b/"
    assert check_path("/") == "/"
    for bad in ("a", "/aws/x", "/a//b", "/a b"):
        with pytest.raises(ValidationError):
            check_path(bad)
    assert split_selector("/a") == ("/a", None, None)
    assert split_selector("/a:3") == ("/a", 3, None)
    assert split_selector("/a:prod") == ("/a", None, "prod")
    assert not invalid_label("prod.v1")
    assert all(invalid_label(x) for x in ("1st", "awsx", "SSMy", "a b", "x" * 101, ""))
    check_data_type("text", "anything")
    check_data_type("aws:ec2:image", "ami-12345678")
    check_data_type("aws:ec2:image", "ami-0123456789abcdef0")
    for data_type, value in (("Text", "v"), ("aws:ec2:image", "ami-xyz"), ("x", "v")):
        with pytest.raises(ValidationError):
            check_data_type(data_type, value)


def parameter(name: str, **extra: object) -> Parameter:
    fields: dict[str, object] = {
        "tenant_id": "1", "region": "r", "name": name, "version": 1,
        "type": ParameterType.STRING, "sealed": b"", "modified": datetime(2026, 1, 1, tzinfo=UTC),
        "modified_user": "u", **extra,
    }  # fmt: skip
    tags = (("env", "prod"),)
    return Parameter(ParameterVersion(**fields), tags)  # type: ignore[arg-type]


def f(key: str, values: list[str], option: str | None = None) -> ParameterFilter:
    return ParameterFilter.checked(key, option, values, by_path=False)


def test_filters_match_as_aws_lists() -> None:
    deep, flat = parameter("/a/b/c"), parameter("top")
    secure = parameter("/a/s", type=ParameterType.SECURE_STRING, tier=Tier.ADVANCED,
                       labels=("prod",))  # fmt: skip
    assert matches(deep, [f("Path", ["/a"], "Recursive")])
    assert not matches(deep, [f("Path", ["/a"])])  # OneLevel by default
    assert matches(secure, [f("Path", ["/a/"])])
    assert matches(flat, [f("Path", ["/"])]) and not matches(deep, [f("Path", ["/"])])
    assert matches(flat, [f("Name", ["top"])])  # names compared with a leading slash
    assert matches(deep, [f("Name", ["/a/b"], "BeginsWith")])
    assert matches(secure, [f("KeyId", ["alias/aws/ssm"]), f("Tier", ["Advanced"])])
    assert not matches(deep, [f("KeyId", ["alias/aws/ssm"])])
    # Label picks among versions (the service's part): no parameter is left out by it here.
    label = ParameterFilter.checked("Label", None, ["prod"], by_path=True)
    assert matches(deep, [label])
    assert matches(deep, [f("tag:env", ["prod"])]) and not matches(deep, [f("tag:env", ["dev"])])
    assert matches(deep, [f("DataType", ["text"])])


def test_filters_refused_in_aws_words() -> None:
    # AWS: Label for GetParametersByPath only; tag, DataType, Name, Path, Tier for
    # DescribeParameters only.
    for key in ("Name", "Path", "Tier", "DataType", "tag:env"):
        with pytest.raises(InvalidFilterKey):
            ParameterFilter.checked(key, None, ["x"], by_path=True)
    with pytest.raises(InvalidFilterKey):
        ParameterFilter.checked("Label", None, ["x"], by_path=False)
    with pytest.raises(InvalidFilterKey):
        ParameterFilter.checked("Colour", None, ["x"], by_path=False)
    with pytest.raises(InvalidFilterOption):
        f("Path", ["/a"], "Equals")
    with pytest.raises(InvalidFilterOption):
        f("Tier", ["Standard"], "BeginsWith")
    with pytest.raises(InvalidFilterValue):
        f("Type", ["Number"])
    with pytest.raises(InvalidFilterValue):
        f("Name", [])
