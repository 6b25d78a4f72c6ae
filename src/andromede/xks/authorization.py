"""Secondary authorization (the spec's "Authorization"): which AWS callers may use which key.

Optional; off unless an authorization file is configured. The file (TOML or JSON) holds, per
externalKeyId, allow-lists checked against the request's ``requestMetadata``::

    [keys."orders-key"]
    kms_key_arns = ["arn:aws:kms:eu-west-3:111122223333:key/1234abcd-..."]
    aws_principal_arns = ["arn:aws:iam::111122223333:role/Orders", "arn:aws:iam::444455556666:*"]

    [default]            # optional: keys the file does not name
    aws_principal_arns = ["arn:aws:iam::111122223333:*"]

Rules, chosen to fail closed:

- with a file, a key it names neither under ``keys`` nor through ``default`` is denied to
  everyone (a key added to the token is not usable by KMS until the file says by whom);
- a key's request must match every list its entry has (a list absent or empty does not
  constrain). A value matches exactly, or by prefix when it ends with ``*``;
- ``kms_key_arns`` is not checked on GetKeyMetadata when the request has no ``kmsKeyArn``:
  KMS calls it during CreateKey, before the KMS key (and its ARN) exists. The principal is;
- GetHealthStatus is never checked (the spec's MUST).

A denial is ``AccessDeniedException``; its ``detail``, for the audit log, names the rule that
denied (``keys.orders-key.kms_key_arns``), as the spec's "Logging" asks.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from andromede.errors import ConfigurationError
from andromede.xks.errors import AccessDeniedException, ValidationException
from andromede.xks.model import Operation, RequestMetadata, check_key_id

__all__ = ["KeyRule", "Policy", "load_policy"]

_LISTS = ("kms_key_arns", "aws_principal_arns")


@dataclass(frozen=True, slots=True)
class KeyRule:
    name: str  # where it is in the file, for the audit log: "keys.<id>" or "default"
    kms_key_arns: tuple[str, ...] = ()
    aws_principal_arns: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Policy:
    keys: dict[str, KeyRule]
    default: KeyRule | None

    def check(self, operation: Operation, key_id: str, metadata: RequestMetadata) -> None:
        """Raise AccessDeniedException unless the rules let this request use ``key_id``."""
        if operation is Operation.GET_HEALTH_STATUS:
            return
        rule = self.keys.get(key_id, self.default)
        if rule is None:
            raise AccessDeniedException(detail=f"keys.{key_id}: not in the authorization file")
        if rule.aws_principal_arns and not _matches(
            metadata.aws_principal_arn, rule.aws_principal_arns
        ):
            raise AccessDeniedException(detail=f"{rule.name}.aws_principal_arns")
        checks_key_arn = not (
            operation is Operation.GET_KEY_METADATA and metadata.kms_key_arn is None
        )
        if (
            rule.kms_key_arns
            and checks_key_arn
            and not _matches(metadata.kms_key_arn, rule.kms_key_arns)
        ):
            raise AccessDeniedException(detail=f"{rule.name}.kms_key_arns")


def _matches(value: str | None, patterns: tuple[str, ...]) -> bool:
    if value is None:
        return False
    return any(
        value.startswith(pattern[:-1]) if pattern.endswith("*") else value == pattern
        for pattern in patterns
    )


def load_policy(path: Path) -> Policy:
    """The rules of a TOML or JSON authorization file (JSON when its suffix is ``.json``)."""
    try:
        text = path.read_text(encoding="utf-8")
        document: Any = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ConfigurationError(f"cannot read the authorization file {path}: {exc}") from None
    if not isinstance(document, dict) or not set(document) <= {"keys", "default"}:
        raise ConfigurationError(
            f"the authorization file {path} may hold only 'keys' and 'default'"
        )
    keys_table = document.get("keys", {})
    if not isinstance(keys_table, dict):
        raise ConfigurationError(f"'keys' of {path} must be a table of externalKeyIds")
    keys: dict[str, KeyRule] = {}
    for key_id, entry in keys_table.items():
        try:
            check_key_id(key_id)
        except ValidationException:
            raise ConfigurationError(f"{key_id[:130]!r} of {path} is no externalKeyId") from None
        keys[key_id] = _rule(f"keys.{key_id}", entry, path)
    default = document.get("default")
    return Policy(keys, None if default is None else _rule("default", default, path))


def _rule(name: str, entry: Any, path: Path) -> KeyRule:
    if not isinstance(entry, dict) or not set(entry) <= set(_LISTS):
        raise ConfigurationError(f"{name} of {path} may hold only {' and '.join(_LISTS)}")
    lists: dict[str, tuple[str, ...]] = {}
    for field_name in _LISTS:
        values = entry.get(field_name, [])
        if not isinstance(values, list) or not all(isinstance(v, str) and v for v in values):
            raise ConfigurationError(f"{name}.{field_name} of {path} must be a list of strings")
        lists[field_name] = tuple(values)
    return KeyRule(name, lists["kms_key_arns"], lists["aws_principal_arns"])
