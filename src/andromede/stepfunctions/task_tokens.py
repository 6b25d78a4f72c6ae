"""Step Functions' task tokens (decision 0271), made as the platform's other tokens (DynamoDB
Streams' iterators): opaque and tamper-proof.

A token names its execution (account, Region, machine, name) and the task (the history
position at which it was scheduled), and ends with an HMAC-SHA256 of all that under the
execution's own token key (random, made with the execution, sealed in its document): any
gateway checks it, one changed byte or one of another execution does not verify (compared in
constant time), and a task answered or timed out leaves its token answering nothing."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

from andromede.stepfunctions.errors import InvalidToken
from andromede.stepfunctions.executions import Execution

__all__ = ["TaskTarget", "make_token", "token_target", "verify_token"]


@dataclass(frozen=True, slots=True)
class TaskTarget:
    tenant_id: str
    region: str
    machine: str
    name: str
    sequence: int


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(execution: Execution, payload: str) -> str:
    key = bytes.fromhex(execution.token_key)
    return _b64(hmac.new(key, payload.encode(), hashlib.sha256).digest())


def make_token(execution: Execution, sequence: int) -> str:
    fields = [execution.tenant_id, execution.region, execution.machine_name, execution.name,
              sequence]  # fmt: skip
    payload = _b64(json.dumps(fields, separators=(",", ":")).encode())
    return f"{payload}.{_mac(execution, payload)}"


def token_target(token: Any) -> TaskTarget:
    """The task a token names (not yet verified); InvalidToken when it is no token."""
    try:
        payload, _ = str(token).split(".", 1)
        tenant, region, machine, name, sequence = json.loads(_unb64(payload))
        return TaskTarget(str(tenant), str(region), str(machine), str(name), int(sequence))
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise InvalidToken("Invalid Token: 'Invalid token'") from None


def verify_token(token: str, execution: Execution) -> bool:
    payload, _, mac = token.partition(".")
    if not execution.token_key:
        return False
    return hmac.compare_digest(mac.encode(), _mac(execution, payload).encode())
