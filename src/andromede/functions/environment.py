"""A function's environment variables (decision 0286): the rules AWS checks (names, the keys
Lambda reserves, the 4 KB bound) and their serialised form, sealed by the service under the
account's keys. A refusal never repeats the values: they are customer secrets."""

from __future__ import annotations

import json
import re
from typing import Final

from andromede.functions.errors import InvalidParameterValue

__all__ = ["RESERVED_KEYS", "checked_variables", "decoded", "encoded"]

_KEY: Final = re.compile(r"[a-zA-Z][a-zA-Z0-9_]+")
# The variables the Lambda runtime sets, which a function may not set (AWS's list).
RESERVED_KEYS: Final = frozenset(
    {
        "_HANDLER",
        "_X_AMZN_TRACE_ID",
        "AWS_DEFAULT_REGION",
        "AWS_REGION",
        "AWS_EXECUTION_ENV",
        "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        "AWS_LAMBDA_FUNCTION_VERSION",
        "AWS_LAMBDA_INITIALIZATION_TYPE",
        "AWS_LAMBDA_LOG_GROUP_NAME",
        "AWS_LAMBDA_LOG_STREAM_NAME",
        "AWS_ACCESS_KEY",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_LAMBDA_RUNTIME_API",
        "LAMBDA_TASK_ROOT",
        "LAMBDA_RUNTIME_DIR",
    }
)


def checked_variables(environment: object, max_bytes: int) -> dict[str, str]:
    """``Environment``'s ``Variables`` once AWS would accept them."""
    if environment is None:
        return {}
    if not isinstance(environment, dict):
        raise InvalidParameterValue("Environment must be an object with Variables")
    variables = environment.get("Variables") or {}
    if not isinstance(variables, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in variables.items()
    ):
        raise InvalidParameterValue("Environment Variables must map names to strings")
    bad = sorted(k for k in variables if _KEY.fullmatch(k) is None)
    if bad:
        raise InvalidParameterValue(
            "Lambda was unable to configure your environment variables because the environment "
            "variables you have provided contains invalid keys: " + ", ".join(k[:64] for k in bad)
        )
    reserved = sorted(k for k in variables if k in RESERVED_KEYS)
    if reserved:
        raise InvalidParameterValue(
            "Lambda was unable to configure your environment variables because the environment "
            "variables you have provided contains reserved keys that are currently not "
            "supported for modification. Reserved keys used in this request: " + ", ".join(reserved)
        )
    size = len(encoded(variables))
    if size > max_bytes:
        raise InvalidParameterValue(
            "Lambda was unable to configure your environment variables because the environment "
            f"variables you have provided exceeded the {max_bytes // 1024}KB limit "
            f"({size} bytes)."
        )
    return dict(variables)


def encoded(variables: dict[str, str]) -> bytes:
    return json.dumps(variables, sort_keys=True, separators=(",", ":")).encode()


def decoded(data: bytes) -> dict[str, str]:
    found = json.loads(data) if data else {}
    return {str(k): str(v) for k, v in found.items()}
