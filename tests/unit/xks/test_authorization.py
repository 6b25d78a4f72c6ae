"""Secondary authorization: per-key allow-lists of kmsKeyArns and principal ARNs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from andromede.errors import ConfigurationError
from andromede.xks.authorization import Policy, load_policy
from andromede.xks.errors import AccessDeniedException
from andromede.xks.model import Operation, RequestMetadata
from andromede.xks.watched import WatchedFile

ALICE = "arn:aws:iam::111122223333:user/Alice"
MALLORY = "arn:aws:iam::444455556666:user/Mallory"
KEY_A = "arn:aws:kms:eu-fr-1:111122223333:key/aaaa"
KEY_B = "arn:aws:kms:eu-fr-1:444455556666:key/bbbb"

RULES = f"""
[keys.orders]
kms_key_arns = ["{KEY_A}"]
aws_principal_arns = ["arn:aws:iam::111122223333:*"]

[keys.open]
"""


def metadata(principal: str | None = ALICE, key_arn: str | None = KEY_A) -> RequestMetadata:
    return RequestMetadata("r", "Encrypt", aws_principal_arn=principal, kms_key_arn=key_arn)


def policy(tmp_path: Path, text: str = RULES, name: str = "authz.toml") -> Policy:
    path = tmp_path / name
    path.write_text(text)
    return load_policy(path)


def denied(rules: Policy, operation: Operation, key_id: str, request: RequestMetadata) -> str:
    with pytest.raises(AccessDeniedException) as caught:
        rules.check(operation, key_id, request)
    return caught.value.detail or ""


def test_a_listed_caller_and_key_arn_pass(tmp_path: Path) -> None:
    rules = policy(tmp_path)
    for operation in (Operation.ENCRYPT, Operation.DECRYPT, Operation.GET_KEY_METADATA):
        rules.check(operation, "orders", metadata())


def test_another_principal_or_key_arn_is_denied_naming_the_rule(tmp_path: Path) -> None:
    rules = policy(tmp_path)
    assert denied(rules, Operation.ENCRYPT, "orders", metadata(principal=MALLORY)) == (
        "keys.orders.aws_principal_arns"
    )
    assert denied(rules, Operation.DECRYPT, "orders", metadata(key_arn=KEY_B)) == (
        "keys.orders.kms_key_arns"
    )


def test_create_key_has_no_key_arn_yet(tmp_path: Path) -> None:
    """KMS's CreateKey calls GetKeyMetadata before the KMS key exists: the principal alone."""
    rules = policy(tmp_path)
    rules.check(Operation.GET_KEY_METADATA, "orders", metadata(key_arn=None))
    denied(rules, Operation.GET_KEY_METADATA, "orders", metadata(MALLORY, key_arn=None))


def test_keys_not_named_are_denied_and_health_never_is(tmp_path: Path) -> None:
    rules = policy(tmp_path)
    assert "not in the authorization file" in denied(rules, Operation.ENCRYPT, "other", metadata())
    rules.check(Operation.GET_HEALTH_STATUS, "", RequestMetadata("r", "KmsHealthCheck"))
    rules.check(Operation.ENCRYPT, "open", metadata(MALLORY, KEY_B))  # an entry without lists


def test_a_default_rule_covers_keys_not_named(tmp_path: Path) -> None:
    rules = policy(tmp_path, RULES + f'[default]\naws_principal_arns = ["{ALICE}"]\n')
    rules.check(Operation.ENCRYPT, "other", metadata())
    assert denied(rules, Operation.ENCRYPT, "other", metadata(MALLORY)) == (
        "default.aws_principal_arns"
    )


def test_json_files_too(tmp_path: Path) -> None:
    rules = policy(tmp_path, f'{{"keys": {{"k": {{"kms_key_arns": ["{KEY_A}"]}}}}}}', "a.json")
    rules.check(Operation.ENCRYPT, "k", metadata())


@pytest.mark.parametrize(
    "text",
    [
        "[keys.orders]\nkms_key_arns = 'x'\n",
        "[keys.orders]\nprincipals = ['x']\n",
        "[keys.'a/b']\n",
        "[other]\n",
        "keys = 3\n",
        "not toml [",
    ],
)
def test_bad_files_are_refused(tmp_path: Path, text: str) -> None:
    with pytest.raises(ConfigurationError):
        policy(tmp_path, text)


def test_an_edit_takes_effect_and_a_broken_edit_keeps_the_rules(tmp_path: Path) -> None:
    path = tmp_path / "authz.toml"
    path.write_text(RULES)
    watched = WatchedFile(path, load_policy, "authorization file")
    watched.current().check(Operation.ENCRYPT, "orders", metadata())
    path.write_text(RULES.replace("111122223333:*", "999999999999:*"))
    os.utime(path, ns=(1, 1))  # a new modification time, whatever the clock's resolution
    denied(watched.current(), Operation.ENCRYPT, "orders", metadata())
    path.write_text("broken [")
    os.utime(path, ns=(2, 2))
    denied(watched.current(), Operation.ENCRYPT, "orders", metadata())  # the last good rules
