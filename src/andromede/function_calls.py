"""Lambda's Invoke called in process as a role's session (decision 0294), the call Step
Functions' Task states and EventBridge Pipes make on AWS: the Lambda API itself, reached
with the session in place of a signature (as the console calls the APIs), so Lambda
authorises ``lambda:InvokeFunction`` on the function — the role's identity policies and the
function's resource-based policy, in one evaluation of the IAM engine —, checks the
payload, runs or queues the function, audits and meters as for any caller.

Its answer is Invoke's, as an SDK reads it (:class:`FunctionAnswer`); an error of the API
(refused, not found, throttled) is :class:`FunctionCallFailed` with Lambda's error code.
How each service words a failure is its own (``state_tasks``, ``pipe_lambda``)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final
from urllib.parse import quote, urlencode

from andromede.http.asgi import TRUSTED_PRINCIPAL_SCOPE_KEY, request_in_process
from andromede.http.response import Receive, Scope, Send
from andromede.iam.model import Principal

__all__ = ["AsgiApp", "FunctionAnswer", "FunctionCallFailed", "invoke_function"]

AsgiApp = Callable[[Scope, Receive, Send], Awaitable[None]]
# The errors botocore's model lists for Invoke: an SDK raises them by name; the others (an
# AccessDeniedException…) reach a Java SDK, and so Step Functions, as AWSLambdaException.
MODELLED: Final = frozenset(
    {
        "InvalidParameterValueException",
        "InvalidRequestContentException",
        "RequestTooLargeException",
        "ResourceConflictException",
        "ResourceNotFoundException",
        "ResourceNotReadyException",
        "ServiceException",
        "TooManyRequestsException",
        "UnsupportedMediaTypeException",
    }
)


class FunctionCallFailed(Exception):
    """Lambda refused the call: its error code, status, message and request id."""

    def __init__(self, code: str, status: int, message: str, request_id: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.status = status
        self.message = message
        self.request_id = request_id

    def sdk_cause(self) -> str:
        """The message as AWS's Java SDK words it, the way Step Functions shows it."""
        return (
            f"{self.message} (Service: AWSLambda; Status Code: {self.status}; Error Code: "
            f"{self.code}; Request ID: {self.request_id}; Proxy: null)"
        )


@dataclass(frozen=True, slots=True)
class FunctionAnswer:
    """Invoke's answer: its status (200, 202 for Event, 204 for DryRun), the function's
    payload, the version run and, when the function failed, ``X-Amz-Function-Error``."""

    status: int
    payload: bytes
    executed_version: str | None
    function_error: str | None
    request_id: str
    headers: dict[str, str]

    def error_document(self) -> dict[str, object]:
        """A failed function's ``{"errorMessage", "errorType", …}`` (empty when none)."""
        try:
            parsed = json.loads(self.payload or b"{}")
        except (ValueError, UnicodeDecodeError):
            return {}
        return parsed if isinstance(parsed, dict) else {}


async def invoke_function(
    app: AsgiApp,
    principal: Principal,
    function_name: str,
    payload: bytes,
    *,
    invocation_type: str = "RequestResponse",
    qualifier: str | None = None,
    client_context: str | None = None,
    trace: str | None = None,
) -> FunctionAnswer:
    """Invoke ``function_name`` (a name, ``name:qualifier`` or an ARN) as ``principal``,
    ``trace`` its ``X-Amzn-Trace-Id`` (the chain's lineage, decision 0351); FunctionCallFailed
    when Lambda answers an error."""
    path = f"/2015-03-31/functions/{function_name}/invocations"
    query = urlencode({"Qualifier": qualifier}) if qualifier is not None else ""
    headers = [
        (b"host", b"localhost"),
        (b"content-type", b"application/json"),
        (b"x-amz-invocation-type", invocation_type.encode()),
    ]
    if client_context is not None:
        headers.append((b"x-amz-client-context", client_context.encode()))
    if trace:
        headers.append((b"x-amzn-trace-id", trace.encode("latin-1", "replace")))
    scope: Scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "https",
        "path": path,
        "raw_path": quote(path, safe="/:$").encode(),
        "query_string": query.encode(),
        "headers": headers,
        "client": None,
        TRUSTED_PRINCIPAL_SCOPE_KEY: principal,
    }
    start, body = await request_in_process(app, scope, payload)
    status = 500 if start is None else int(start["status"])
    answered = {
        bytes(k).decode("latin-1").lower(): bytes(v).decode("latin-1")
        for k, v in ([] if start is None else start.get("headers", []))
    }
    request_id = answered.get("x-amzn-requestid", "")
    if status >= 300:
        try:
            error = json.loads(body or b"{}")
        except (ValueError, UnicodeDecodeError):
            error = {}
        error = error if isinstance(error, dict) else {}
        code = answered.get("x-amzn-errortype", "").split(":", 1)[0] or "ServiceException"
        message = str(error.get("message") or error.get("Message") or "")
        raise FunctionCallFailed(code, status, message[:1024], request_id)
    return FunctionAnswer(
        status=status,
        payload=body,
        executed_version=answered.get("x-amz-executed-version"),
        function_error=answered.get("x-amz-function-error"),
        request_id=request_id,
        headers=answered,
    )
