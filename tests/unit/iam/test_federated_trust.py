"""Which roles a web identity may assume, as STS's AssumeRoleWithWebIdentity decides it
(``iam/federated_trust.py``, decision 0141's addendum): the trust policy with the token's
``<url>:aud``/``:sub`` keys and the provider as ``Federated``, ``sts:TagSession`` and
``sts:SetSourceIdentity`` when the token brings tags or a source identity, never a role of
another account — the same function STS authorises with, so what the console offers is what
STS grants."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from andromede.iam.federated_trust import roles_trusting, web_identity_trusted
from andromede.iam.model import OidcProvider, Role, Tags
from andromede.iam.web_identity import VerifiedWebIdentity

ACCOUNT = "111111111111"
URL = "keycloak.example.com/realms/acme"
NOW = datetime(2026, 12, 5, tzinfo=UTC)
PROVIDER = OidcProvider(ACCOUNT, URL, ("console",), (), NOW)


def _role(
    name: str, *, sub: str = "alice", actions: tuple[str, ...] = (), account: str = ACCOUNT
) -> Role:
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Federated": PROVIDER.arn},
                "Action": ["sts:AssumeRoleWithWebIdentity", *actions],
                "Condition": {"StringEquals": {f"{URL}:aud": "console", f"{URL}:sub": sub}},
            }
        ],
    }
    return Role(f"AROA{name.upper()}", account, name, "/", NOW, json.dumps(trust))


def _identity(*, tags: Tags = (), source_identity: str | None = None) -> VerifiedWebIdentity:
    return VerifiedWebIdentity(
        PROVIDER, "alice", "console", None, tags=tags, source_identity=source_identity
    )


def _names(roles: list[Role]) -> list[str]:
    return [r.name for r in roles]


def test_the_roles_whose_trust_policy_names_the_tokens_subject() -> None:
    roles = [_role("engineers"), _role("auditors", sub="bob"), _role("ops")]
    found = roles_trusting(_identity(), roles, source_ip=None, secure=True, region="eu-fr-1")
    assert _names(found) == ["engineers", "ops"]


def test_a_token_with_tags_or_a_source_identity_needs_those_actions_too() -> None:
    plain = _role("plain")
    tagging = _role("tagging", actions=("sts:TagSession",))
    sourcing = _role("sourcing", actions=("sts:SetSourceIdentity",))
    roles = [plain, tagging, sourcing]
    tagged = _identity(tags=(("team", "blue"),))
    found = roles_trusting(tagged, roles, source_ip=None, secure=True, region="eu-fr-1")
    assert _names(found) == ["tagging"]
    sourced = _identity(source_identity="alice")
    found = roles_trusting(sourced, roles, source_ip=None, secure=True, region="eu-fr-1")
    assert _names(found) == ["sourcing"]


def test_never_a_role_of_another_account() -> None:
    elsewhere = _role("engineers", account="222222222222")
    assert not web_identity_trusted(
        _identity(), elsewhere, source_ip=None, secure=True, region="eu-fr-1"
    )
    assert roles_trusting(_identity(), [elsewhere], source_ip=None, secure=True, region="x") == []


def test_tags_that_break_iams_rules_offer_no_role() -> None:
    broken = _identity(tags=(("aws:reserved", "x"),))
    found = roles_trusting(
        broken,
        [_role("tagging", actions=("sts:TagSession",))],
        source_ip=None,
        secure=True,
        region="eu-fr-1",
    )
    assert found == []
