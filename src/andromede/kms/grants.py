"""The pure rules of KMS grants: which principals a grant may name, what a caller matches, grant
ids and names, and the checks of a new grant. The grant record is ``keys_model.Grant``; making,
listing, retiring and revoking them is ``CustomerKeyService``'s.

A grant lets one principal (``grantee``) use one key for some operations, beside the key policy:
the key's own account decides who gets one (``kms:CreateGrant``), and explicit denies in any
policy still win over it. Grantees are named by ARN: an IAM user, a role (then every session of
the role matches), one role session, or an account's root user.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping, Sequence
from typing import Final

from andromede.kms.keys_errors import InvalidKeyParameter
from andromede.kms.keys_model import (
    CONTEXT_OPERATIONS,
    GRANT_OPERATIONS,
    KEY_SPEC_SYMMETRIC_DEFAULT,
    KEY_USAGE_ENCAPSULATE_DECAPSULATE,
    KEY_USAGE_ENCRYPT_DECRYPT,
    KEY_USAGE_GENERATE_VERIFY_MAC,
    KEY_USAGE_KEY_AGREEMENT,
    KEY_USAGE_SIGN_VERIFY,
    GrantConstraints,
)

__all__ = [
    "MAX_GRANT_TOKENS",
    "caller_identities",
    "check_grant_operations_fit",
    "check_grant_principal",
    "is_grant_id",
    "new_grant_id",
    "new_grant_terms",
    "principal_account",
]

MAX_GRANT_TOKENS: Final = 10  # GrantTokens per request, as AWS
_PATH_NAME = r"[\w+=,.@/-]{1,512}"
_PRINCIPAL: Final = re.compile(
    rf"arn:aws:iam::\d{{12}}:(?:root|user/{_PATH_NAME}|role/{_PATH_NAME})"
    r"|arn:aws:sts::\d{12}:assumed-role/[\w+=,.@-]{1,64}/[\w+=,.@-]{2,64}"
)
_SESSION: Final = re.compile(r"arn:aws:sts::(\d{12}):assumed-role/([\w+=,.@-]{1,64})/")
_NAME: Final = re.compile(r"[a-zA-Z0-9:/_-]{1,256}")
_GRANT_ID: Final = re.compile(r"[0-9a-f]{64}")
# The operations a grant may allow, by the key's kind, as AWS checks them: a grant for an
# operation the key cannot do is refused rather than kept as a dead letter.
_ANY_KEY: Final = frozenset({"CreateGrant", "RetireGrant", "DescribeKey"})
# A symmetric key's operations are exactly those that take an encryption context.
_SYMMETRIC: Final = CONTEXT_OPERATIONS
_BY_USAGE: Final[Mapping[str, frozenset[str]]] = {
    KEY_USAGE_ENCRYPT_DECRYPT: frozenset(
        {"Decrypt", "Encrypt", "ReEncryptFrom", "ReEncryptTo", "GetPublicKey"}
    ),
    KEY_USAGE_SIGN_VERIFY: frozenset({"Sign", "Verify", "GetPublicKey"}),
    KEY_USAGE_GENERATE_VERIFY_MAC: frozenset({"GenerateMac", "VerifyMac"}),
    KEY_USAGE_KEY_AGREEMENT: frozenset({"DeriveSharedSecret", "GetPublicKey"}),
    KEY_USAGE_ENCAPSULATE_DECAPSULATE: frozenset({"Encapsulate", "Decapsulate", "GetPublicKey"}),
}


def check_grant_principal(field: str, value: str) -> str:
    if len(value) > 256 or not _PRINCIPAL.fullmatch(value):
        raise InvalidKeyParameter(f"{field} {value[:256]!r} is not a valid principal ARN")
    return value


def principal_account(arn: str) -> str:
    """The account of a principal ARN that ``check_grant_principal`` accepted."""
    return arn.split(":")[4]


def caller_identities(caller_arn: str) -> tuple[str, ...]:
    """The grantee ARNs a caller matches: its own, and its role's for a role session."""
    session = _SESSION.match(caller_arn)
    if session is None:
        return (caller_arn,)
    return (caller_arn, f"arn:aws:iam::{session[1]}:role/{session[2]}")


def new_grant_id() -> str:
    return secrets.token_hex(32)


def is_grant_id(text: str) -> bool:
    return _GRANT_ID.fullmatch(text) is not None


def check_grant_operations_fit(operations: Sequence[str], key_spec: str, key_usage: str) -> None:
    """Nothing when a key of ``key_spec`` and ``key_usage`` can do every one of ``operations``;
    else ``InvalidKeyParameter`` (ValidationException), naming the ones it cannot."""
    if key_spec == KEY_SPEC_SYMMETRIC_DEFAULT:
        allowed = _ANY_KEY | _SYMMETRIC
    else:
        allowed = _ANY_KEY | _BY_USAGE.get(key_usage, frozenset())
    unfit = sorted(set(operations) - allowed)
    if unfit:
        raise InvalidKeyParameter(
            f"Operations {unfit[:5]} are not valid for a {key_spec} key with KeyUsage {key_usage}"
        )


def new_grant_terms(
    operations: Sequence[str],
    subset: Mapping[str, str] | None,
    equals: Mapping[str, str] | None,
    name: str | None,
) -> tuple[tuple[str, ...], GrantConstraints]:
    """A new grant's operations (sorted, no duplicates) and constraints, checked as AWS does:
    at least one operation, each one a grant operation (which of them the key can do is
    :func:`check_grant_operations_fit`'s, once the key is known); one kind of constraint at
    most."""
    if not operations:
        raise InvalidKeyParameter("Operations must name at least one operation")
    unknown = sorted(set(operations) - GRANT_OPERATIONS)
    if unknown:
        raise InvalidKeyParameter(f"Operations {unknown[:5]} are not grant operations")
    # An empty map is no constraint, as on AWS, which counts only non-empty ones: Terraform's
    # provider sends the constraint it was not given as {}.
    subset, equals = subset or None, equals or None
    if subset is not None and equals is not None:
        raise InvalidKeyParameter(
            "Constraints take EncryptionContextSubset or EncryptionContextEquals, not both"
        )
    if name is not None and not _NAME.fullmatch(name):
        raise InvalidKeyParameter("Name must be 1 to 256 of a-z, A-Z, 0-9, ':', '/', '_', '-'")
    constraints = GrantConstraints(
        subset=None if subset is None else tuple(sorted(subset.items())),
        equals=None if equals is None else tuple(sorted(equals.items())),
    )
    return tuple(sorted(set(operations))), constraints
