"""Bad input never makes a 500: every action, with each of its parameters replaced by values
of the wrong type or shape, answers an SQS error of the 4xx family in SQS's shape."""

from __future__ import annotations

from typing import Any

import pytest

from andromede.sqsapi.actions import ACTIONS
from support.sqsapp import Harness
from unit.sqsapi.test_isolation import RECIPES

WRONG: list[Any] = [None, 7, True, -1, "", "ø" * 300, [], ["x"], {}, {"a": 1}, [{"Id": 3}]]


@pytest.mark.parametrize("action", sorted(ACTIONS))
async def test_wrong_values_are_sqs_errors(sqs: Harness, action: str) -> None:
    url = (await sqs.ok("CreateQueue", {"QueueName": "victim"}))["QueueUrl"]
    await sqs.ok("SendMessage", {"QueueUrl": url, "MessageBody": "m"})
    base = {k: (url if v == "{url}" else v) for k, v in RECIPES[action].items()}
    for name in base:
        for wrong in WRONG:
            reply = await sqs.call(action, {**base, name: wrong})
            assert reply.status < 500, (action, name, wrong, reply.body)
            if reply.status >= 400:
                assert reply.error_type
