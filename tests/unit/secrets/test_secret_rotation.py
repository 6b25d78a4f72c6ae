"""Secrets Manager rotation (decision 0303) over the in-memory stores, the Lambda function a
double behind the same ``RotationFunctions`` port that does what AWS's rotation template
does through the service (PutSecretValue ``AWSPENDING`` at createSecret, the ``AWSCURRENT``
move at finishSecret): the schedule's rules, the four steps in order, a failing step leaving
``AWSPENDING`` and the old ``AWSCURRENT``, a second rotation refused meanwhile, the lease,
the window, and the scheduled worker's pass."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from andromede.secrets.errors import InvalidParameter, InvalidRequest, SecretNotFound
from andromede.secrets.memory import MemorySecretStore
from andromede.secrets.model import CURRENT, PENDING, Secret, SecretVersion
from andromede.secrets.rotation import RotationDenied
from andromede.secrets.rotation_model import RotationRules, parse_rules
from andromede.secrets.service import Actor, SecretService, SecretValue

FUNCTION = "arn:aws:lambda:eu-fr-1:111122223333:function:rotator"
NOW = datetime(2026, 12, 6, 10, 30, tzinfo=UTC)


class PlainSealer:
    async def seal(
        self, secret: Secret, version_id: str, plaintext: bytes, caller: object
    ) -> bytes:
        return b"sealed:" + plaintext

    async def open(self, secret: Secret, version: SecretVersion, caller: object) -> bytes:
        return version.sealed.removeprefix(b"sealed:")

    async def reseal(
        self, secret: Secret, version: SecretVersion, plaintext: bytes, caller: object
    ) -> bytes:
        return b"sealed:" + plaintext


async def _allow(action: str, secret: Secret | None) -> None:
    return None


ACTOR = Actor("111122223333", "eu-fr-1", _allow)


class FunctionDouble:
    """A rotation function: a new password at createSecret, AWSCURRENT moved at finishSecret;
    ``fail_at`` a step that raises; ``allowed`` whether its policy lets Secrets Manager in."""

    def __init__(self, service: SecretService, fail_at: str | None = None) -> None:
        self.service = service
        self.fail_at = fail_at
        self.allowed = True
        self.steps: list[tuple[str, str]] = []

    async def check(self, function_arn: str, secret: Secret) -> None:
        if not self.allowed or function_arn != FUNCTION:
            raise RotationDenied("Secrets Manager cannot invoke the specified Lambda function.")

    async def invoke(self, function_arn: str, secret: Secret, event: bytes) -> str | None:
        body = json.loads(event)
        assert body["SecretId"] == secret.arn
        step, token = body["Step"], body["ClientRequestToken"]
        self.steps.append((step, token))
        if step == self.fail_at:
            return f"ValueError: {step} failed"
        if step == "createSecret":
            try:
                await self.service.get_value(ACTOR, secret.arn, token, PENDING)
            except SecretNotFound:
                await self.service.put_value(
                    ACTOR, secret.arn, SecretValue(b"new-" + token[:4].encode(), False),
                    token=token, stages=[PENDING],
                )  # fmt: skip
        if step == "finishSecret":
            _, versions = await self.service.describe(ACTOR, secret.arn)
            current = next(v.version_id for v in versions if CURRENT in v.stages)
            if current != token:
                await self.service.update_stage(
                    ACTOR, secret.arn, CURRENT, remove_from=current, move_to=token
                )
        return None


async def _no_invoke(resource: str) -> None:
    return None


async def _made(fail_at: str | None = None) -> tuple[SecretService, FunctionDouble, Secret]:
    service = SecretService(MemorySecretStore(), PlainSealer(), clock=lambda: NOW)
    double = FunctionDouble(service, fail_at)
    service.rotation.functions = double
    secret, _ = await service.create(ACTOR, "db", SecretValue(b"old", False))
    return service, double, secret


async def _rotate(service: SecretService, token: str | None = None, **kw: object) -> str | None:
    options: dict[str, object] = {
        "token": token, "function_arn": FUNCTION, "rules": RotationRules(days=30),
        "immediately": True, "authorise_invoke": _no_invoke,
    }  # fmt: skip
    _, version = await service.rotation.rotate(ACTOR, "db", **(options | kw))  # type: ignore[arg-type]
    await service.rotation.idle()
    return version


def test_rules_are_checked_as_aws_checks_them() -> None:
    assert parse_rules(30, None, None) == RotationRules(days=30)
    assert parse_rules(None, "rate(4 hours)", "2h").duration_hours == 2
    for days, expression, duration in [
        (0, None, None), (1001, None, None), (30, "rate(10 days)", None), (None, None, None),
        (None, "rate(3 hours)", None), (None, "rate(1001 days)", None), (None, "every day", None),
        (None, "cron(0 16 * * * *)", None), (None, "rate(10 days)", "25h"),
        (None, "rate(1 days)", None),
    ]:  # fmt: skip
        with pytest.raises(InvalidParameter):
            parse_rules(days, expression, duration)


def test_next_rotation_and_window() -> None:
    assert RotationRules(days=30).next_after(NOW) == NOW + timedelta(days=30)
    hours = RotationRules(expression="rate(6 hours)")
    assert hours.next_after(NOW) == NOW + timedelta(hours=6)
    assert hours.window_closes(NOW) == NOW + timedelta(hours=1)
    daily = RotationRules(expression="rate(1 day)")
    assert daily.window_closes(NOW) == datetime(2026, 12, 7, tzinfo=UTC)
    cron = RotationRules(expression="cron(0 16 1,15 * ? *)", duration_hours=3)
    assert cron.next_after(NOW) == datetime(2026, 12, 15, 16, 0, tzinfo=UTC)
    assert cron.window_closes(datetime(2026, 12, 15, 16, tzinfo=UTC)) == datetime(
        2026, 12, 15, 19, tzinfo=UTC
    )
    weekly = RotationRules(expression="cron(0 8 ? * MON *)")
    assert weekly.next_after(NOW) == datetime(2026, 12, 7, 8, 0, tzinfo=UTC)  # a Monday


async def test_a_rotation_runs_the_four_steps_and_moves_awscurrent() -> None:
    service, double, secret = await _made()
    token = "a" * 32
    assert await _rotate(service, token) == token
    assert double.steps == [
        (s, token) for s in ("createSecret", "setSecret", "testSecret", "finishSecret")
    ]
    _, version, value = await service.get_value(ACTOR, "db")
    assert (version.version_id, value, version.stages) == (token, b"new-aaaa", (CURRENT,))
    _, versions = await service.describe(ACTOR, "db")
    assert sorted(s for v in versions for s in v.stages) == ["AWSCURRENT", "AWSPREVIOUS"]
    state = await service.rotation.state(secret)
    assert state is not None and state.enabled and state.failure is None and state.token is None
    assert state.last_rotated == NOW and state.next_rotation == NOW + timedelta(days=30)
    assert state.lease_until == 0


async def test_a_failing_step_leaves_pending_and_the_old_value() -> None:
    service, double, secret = await _made(fail_at="testSecret")
    token = "b" * 32
    await _rotate(service, token)
    assert [s for s, _ in double.steps] == ["createSecret", "setSecret", "testSecret"]
    _, version, value = await service.get_value(ACTOR, "db")
    assert value == b"old" and CURRENT in version.stages
    _, pending, held = await service.get_value(ACTOR, "db", token, PENDING)
    assert held == b"new-bbbb" and pending.stages == (PENDING,)
    state = await service.rotation.state(secret)
    assert state is not None and state.token == token
    assert state.failure is not None and state.failure.startswith("testSecret: ValueError")
    with pytest.raises(InvalidRequest, match="previous rotation isn't complete"):
        await _rotate(service, "c" * 32)
    # The same request again answers the same; the schedule's next window tries it again.
    assert await _rotate(service, token) == token
    double.fail_at = None
    await service.rotation.store.save(replace(state, next_rotation=NOW - timedelta(minutes=1)))
    assert await service.rotation.run_due() == 1
    _, version, value = await service.get_value(ACTOR, "db")
    assert (version.version_id, value) == (token, b"new-bbbb")


async def test_the_pending_version_has_no_value_until_the_function_puts_it() -> None:
    service, _, _ = await _made(fail_at="createSecret")
    token = "d" * 32
    await _rotate(service, token)
    _, versions = await service.describe(ACTOR, "db")
    assert {v.version_id: v.stages for v in versions}[token] == (PENDING,)
    with pytest.raises(SecretNotFound):
        await service.get_value(ACTOR, "db", token, PENDING)
    with pytest.raises(InvalidParameter, match="own type"):
        await service.put_value(
            ACTOR, "db", SecretValue(b"\x00", True), token=token, stages=[PENDING]
        )


async def test_refusals_and_cancel() -> None:
    service, double, secret = await _made()
    with pytest.raises(InvalidRequest, match="No Lambda rotation function"):
        await _rotate(service, function_arn=None)
    double.allowed = False
    with pytest.raises(RotationDenied):
        await _rotate(service)
    double.allowed = True
    assert await _rotate(service, immediately=False) is None
    assert [s for s, _ in double.steps] == ["testSecret"]  # the configuration tested (0308)
    state = await service.rotation.state(secret)
    assert state is not None and state.enabled and state.next_rotation == NOW + timedelta(days=30)
    _, pending = await service.rotation.cancel(ACTOR, "db")
    assert pending is None
    state = await service.rotation.state(secret)
    assert state is not None and not state.enabled and state.function_arn == FUNCTION
    # Rotate again without a function: the one kept is used.
    assert await _rotate(service, function_arn=None) is not None
    assert len(double.steps) == 5


async def test_the_lease_keeps_a_rotation_to_one_gateway_and_a_closed_window_waits() -> None:
    service, double, secret = await _made()
    await _rotate(service, immediately=False)
    store = service.rotation.store
    state = await store.get(secret.arn)
    assert state is not None
    await store.save(replace(state, next_rotation=NOW - timedelta(minutes=5)))
    held = await store.claim(secret.arn, "other-gateway", 0, 2**62)
    assert held is not None
    assert await service.rotation.run_due() == 0  # leased elsewhere
    assert await store.settle(held, "other-gateway")
    # Its window (the end of its UTC day) closed: moved to the next one, nothing run.
    await store.save(replace(state, next_rotation=NOW - timedelta(days=2)))
    assert await service.rotation.run_due() == 0
    moved = await store.get(secret.arn)
    assert moved is not None and moved.next_rotation == NOW + timedelta(days=30)
    assert [s for s, _ in double.steps] == ["testSecret"]  # RotateSecret's test alone
    await store.save(replace(state, next_rotation=NOW - timedelta(minutes=5)))
    assert await service.rotation.run_due() == 1
    assert len(double.steps) == 5


async def test_a_secret_deleted_takes_its_rotation_with_it() -> None:
    service, _, secret = await _made()
    await _rotate(service, immediately=False)
    assert await service.rotation.state(secret) is not None
    await service.delete(ACTOR, "db", window_days=None, force=True)
    assert await service.rotation.state(secret) is None


async def test_the_configuration_s_test_puts_awspending_back_and_respects_a_lease() -> None:
    """Decision 0308: with AWSPENDING left on AWSCURRENT's version (a rotation finished as AWS
    allows), the test moves it to its own version and back; a rotation leased by another
    gateway refuses the test and keeps the configuration as it was."""
    service, double, secret = await _made()
    _, versions = await service.describe(ACTOR, "db")
    (current,) = [v.version_id for v in versions]
    await service.update_stage(ACTOR, "db", PENDING, remove_from=None, move_to=current)
    token = "e" * 32
    assert await _rotate(service, token, immediately=False) is None
    assert double.steps == [("testSecret", token)]
    _, versions = await service.describe(ACTOR, "db")
    assert {v.version_id: v.stages for v in versions} == {current: (CURRENT, PENDING)}
    store = service.rotation.store
    held = await store.claim(secret.arn, "other-gateway", 0, 2**62)
    assert held is not None
    with pytest.raises(InvalidRequest, match="previous rotation isn't complete"):
        await _rotate(service, rules=RotationRules(days=7), immediately=False)
    kept = await store.get(secret.arn)
    assert kept is not None and kept.rules == RotationRules(days=30)
    assert kept.lease_owner == "other-gateway" and len(double.steps) == 1
