"""A JSON call's members read and checked (``awsjson.members``, decision 0357): the wording
AWS's JSON APIs give, raised as each service's own wire error by its call class."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import pytest

from andromede.acmapi.call import AcmCall
from andromede.acmapi.errors import AcmWireError
from andromede.awsjson.endpoint import JsonWireError
from andromede.awsjson.members import JsonMembers, WireErrorType, validation_error
from andromede.firehoseapi.errors import FirehoseWireError
from andromede.firehoseapi.params import FirehoseCall
from andromede.kinesisapi.errors import KinesisWireError
from andromede.kinesisapi.params import KinesisCall
from andromede.secretsapi.call import SecretsCall
from andromede.secretsapi.errors import SecretsWireError
from andromede.ssmapi.call import SsmCall
from andromede.ssmapi.errors import SsmWireError


@dataclass(slots=True)
class Call(JsonMembers):
    params: Mapping[str, Any]
    wire_error: ClassVar[WireErrorType] = KinesisWireError


def test_a_string_is_read_within_its_lengths() -> None:
    call = Call({"Name": "orders", "Inner": {"Name": "x"}})
    assert call.string("Name", required=True, min_length=1, max_length=6) == "orders"
    assert call.string("Absent") is None
    assert call.string("Name", source=call.params["Inner"]) == "x"


@pytest.mark.parametrize(
    ("params", "kwargs", "error_type", "message"),
    [
        ({}, {"required": True}, "ValidationException",
         "1 validation error detected: Value at 'name' failed to satisfy constraint: "
         "Member must not be null"),
        ({"Name": 7}, {}, "SerializationException", "Name must be a string"),
        ({"Name": "orders"}, {"max_length": 5}, "ValidationException",
         "1 validation error detected: Value at 'name' failed to satisfy constraint: "
         "Member must have length between 0 and 5"),
    ],
)  # fmt: skip
def test_a_string_s_refusals(
    params: dict[str, Any], kwargs: dict[str, Any], error_type: str, message: str
) -> None:
    with pytest.raises(KinesisWireError) as raised:
        Call(params).string("Name", **kwargs)
    assert (raised.value.error_type, raised.value.message) == (error_type, message)
    assert raised.value.status == 400


@pytest.mark.parametrize(
    ("value", "error_type", "message"),
    [
        (True, "SerializationException", "Limit must be an integer"),
        ("3", "SerializationException", "Limit must be an integer"),
        (0, "ValidationException",
         "1 validation error detected: Value at 'limit' failed to satisfy constraint: "
         "Member must have value between 1 and 10"),
    ],
)  # fmt: skip
def test_an_integer_s_refusals(value: object, error_type: str, message: str) -> None:
    with pytest.raises(KinesisWireError) as raised:
        Call({"Limit": value}).integer("Limit", minimum=1, maximum=10)
    assert (raised.value.error_type, raised.value.message) == (error_type, message)


def test_an_integer_is_read_within_its_bounds() -> None:
    assert Call({"Limit": 10}).integer("Limit", minimum=1, maximum=10) == 10
    assert Call({}).integer("Limit", minimum=1, maximum=10) is None


@pytest.mark.parametrize(
    ("call_type", "wire_error"),
    [
        (AcmCall, AcmWireError),
        (FirehoseCall, FirehoseWireError),
        (KinesisCall, KinesisWireError),
        (SecretsCall, SecretsWireError),
        (SsmCall, SsmWireError),
    ],
)
def test_each_service_s_call_raises_its_own_wire_error(
    call_type: type[JsonMembers], wire_error: type[JsonWireError]
) -> None:
    assert call_type.wire_error is wire_error
    made = validation_error(call_type.wire_error, "SecretId", "Member must not be null")
    assert isinstance(made, wire_error)
    assert made.message.startswith("1 validation error detected: Value at 'secretId'")
