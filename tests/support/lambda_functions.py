"""A Python function as the Lambda tests make theirs: its handler's source zipped as ``app.py``
(at a fixed time, so the same source zipped a second later is the same bytes), an execution
role trusting ``lambda.amazonaws.com`` with the inline policies a test gives it, and
CreateFunction in ``python3.11`` with handler ``app.handler`` (and the loop tests' functions,
which tally each run into a queue the test reads) — through boto3's ``iam`` and
``lambda`` clients of a running ``andromede serve`` for the end-to-end tests, the zip and the
trust for ``support.lambdaapp``'s world in process. ``NEEDS_BWRAP`` skips a test whose
functions run where the sandbox cannot."""

from __future__ import annotations

import io
import json
import shutil
import zipfile
from collections.abc import Mapping
from typing import Any, Final

import pytest

__all__ = [
    "HANDLER_SOURCE",
    "NEEDS_BWRAP",
    "TRUST",
    "execution_role",
    "handler_zip",
    "python_function",
    "tallying_function",
]

TRUST: Final = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)
HANDLER_SOURCE: Final = "def handler(event, context):\n    return {'echo': event}\n"
NEEDS_BWRAP: Final = pytest.mark.skipif(
    shutil.which("bwrap") is None,
    reason="bubblewrap is not installed (scripts/install-system-deps.sh installs it)",
)


def handler_zip(source: str = HANDLER_SOURCE, module: str = "app") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        # A fixed time: the same source zipped a second later must be the same bytes.
        archive.writestr(zipfile.ZipInfo(f"{module}.py", (2026, 1, 1, 0, 0, 0)), source)
    return buffer.getvalue()


def execution_role(iam: Any, name: str, policies: Mapping[str, Any] | None = None) -> str:
    """The ARN of a new role ``name`` trusting Lambda, given each of ``policies`` (by name)
    inline."""
    arn = str(iam.create_role(RoleName=name, AssumeRolePolicyDocument=TRUST)["Role"]["Arn"])
    for policy, document in (policies or {}).items():
        iam.put_role_policy(RoleName=name, PolicyName=policy, PolicyDocument=json.dumps(document))
    return arn


def python_function(
    functions: Any, name: str, role: str, source: str, **settings: Any
) -> dict[str, Any]:
    """CreateFunction's answer for ``source`` run as ``role`` (an ARN), with any other
    ``settings`` CreateFunction takes (``Layers``, ``DeadLetterConfig``…)."""
    return dict(
        functions.create_function(
            FunctionName=name,
            Runtime="python3.11",
            Role=role,
            Handler="app.handler",
            Code={"ZipFile": handler_zip(source)},
            **settings,
        )
    )


def tallying_function(
    iam: Any,
    functions: Any,
    name: str,
    source: str,
    *,
    tally: str,
    actions: str | list[str] = "sqs:SendMessage",
    resource: str = "*",
    dead_letter_arn: str | None = None,
) -> str:
    """The ARN of a function ``name`` (its execution role of that name) running ``source``
    with the queue ``tally``'s URL as ``TALLY``, allowed ``actions`` on ``resource``, a 30 s
    timeout, and ``dead_letter_arn`` as its dead-letter queue where given."""
    allowed = {"Effect": "Allow", "Action": actions, "Resource": resource}
    role = execution_role(iam, name, {"tally": {"Version": "2012-10-17", "Statement": [allowed]}})
    settings: dict[str, Any] = {"Environment": {"Variables": {"TALLY": tally}}}
    if dead_letter_arn is not None:
        settings["DeadLetterConfig"] = {"TargetArn": dead_letter_arn}
    return str(
        python_function(functions, name, role, source, Timeout=30, **settings)["FunctionArn"]
    )
