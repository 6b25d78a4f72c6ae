"""Service last accessed's summary (decision 0193), pure: which uses count (the entity's, a role's
sessions, up to the job's time, of allowed namespaces), the last one per service and per action,
and how many entities made them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from andromede.iam.service_access import Access, AccessScope, summarise

T0 = datetime(2026, 12, 5, 12, tzinfo=UTC)
ALICE = "arn:aws:iam::111122223333:user/alice"
BOB = "arn:aws:iam::111122223333:user/bob"
ROLE = "arn:aws:iam::111122223333:role/web"


def test_summary_counts_the_entities_uses_up_to_the_job() -> None:
    scope = AccessScope(
        principals={ALICE: ALICE, BOB: BOB},
        sessions={"arn:aws:sts::111122223333:assumed-role/web/": ROLE},
        namespaces=("ec2", "iam", "s3"),
        key_uses=(Access(T0 - timedelta(hours=1), BOB, "s3:", "eu-fr-1"),),
    )
    uses = [
        Access(T0 - timedelta(hours=3), ALICE, "s3:PutObject"),
        Access(T0 - timedelta(hours=2), "arn:aws:sts::111122223333:assumed-role/web/i-1",
               "s3:DeleteObject"),
        Access(T0 + timedelta(hours=1), ALICE, "ec2:RunInstances"),  # after the job
        Access(T0 - timedelta(hours=1), "arn:aws:iam::111122223333:user/carol", "iam:GetUser"),
        Access(T0 - timedelta(hours=1), ALICE, "kms:Encrypt"),  # not an allowed namespace
    ]  # fmt: skip
    by_namespace = {s.namespace: s for s in summarise(scope, uses, T0)}
    assert list(by_namespace) == ["ec2", "iam", "s3"]
    assert by_namespace["ec2"].last is None and by_namespace["ec2"].total_entities == 0
    assert by_namespace["iam"].last is None  # carol is not one of the entity's
    s3 = by_namespace["s3"]
    assert s3.total_entities == 3
    assert s3.last == Access(T0 - timedelta(hours=1), BOB, "s3:", "eu-fr-1")
    assert [(a.name, a.entity) for a in s3.actions] == [
        ("s3:DeleteObject", ROLE),
        ("s3:PutObject", ALICE),
    ]
