"""Decision 0285's pure rules: the status flipping after FailureThreshold results both ways
(a first result setting it), the observations kept one a checker, a CALCULATED check's
threshold (0 always healthy, above its children never), Inverted and Disabled, decision
0371's one reading of a check as the failover reads it (its cases: disabled, inverted, an
alarm's state and each InsufficientDataHealthStatus, a checker's report read back), and
UpdateHealthCheck's ResetElements."""

from __future__ import annotations

import pytest

from andromede.route53.errors import InvalidInput
from andromede.route53.health_model import (
    KEPT_OBSERVATIONS,
    HealthCheck,
    HealthCheckConfig,
    HealthStatus,
    Observation,
    alarm_healthy,
    calculated_healthy,
    completed,
    failover_healthy,
    observed,
    report_healthy,
    updated,
)


def seen(n: int, checker: str = "10.0.0.1") -> Observation:
    return Observation("eu-fr-1", checker, f"result {n}", 1000 + n)


def test_the_status_flips_after_threshold_results_both_ways() -> None:
    status = observed(HealthStatus(), False, seen(1), 3)
    assert status.healthy is False and status.checked == 1001  # the first result sets it
    for n, expected in ((2, False), (3, False), (4, True)):
        status = observed(status, True, seen(n), 3)
        assert status.healthy is expected
    status = observed(status, False, seen(5), 3)
    status = observed(status, True, seen(6), 3)  # a success breaks the run of failures
    status = observed(status, False, seen(7), 3)
    status = observed(status, False, seen(8), 3)
    assert status.healthy is True
    status = observed(status, False, seen(9), 3)
    assert status.healthy is False
    assert [o.report for o in status.observations] == ["result 9"]  # one per checker
    assert status.last_failures[0].report == "result 9"
    for n in range(40):
        status = observed(status, True, seen(n, f"10.0.1.{n}"), 1)
    assert len(status.observations) == KEPT_OBSERVATIONS


def test_calculated_thresholds() -> None:
    config = HealthCheckConfig(type="CALCULATED", children=("a", "b"), health_threshold=0)
    assert calculated_healthy(config, {}) is True
    two = HealthCheckConfig(type="CALCULATED", children=("a", "b"), health_threshold=2)
    assert calculated_healthy(two, {"a": True, "b": True}) is True
    assert calculated_healthy(two, {"a": True}) is False  # a deleted child is unhealthy
    three = HealthCheckConfig(type="CALCULATED", children=("a", "b"), health_threshold=3)
    assert calculated_healthy(three, {"a": True, "b": True}) is False


def test_inverted_disabled_and_before_the_first_result() -> None:
    config = completed(HealthCheckConfig(type="TCP", ip_address="81.2.69.1", port=22))
    check = HealthCheck("111111111111", "h", "r", config, 0)
    assert check.reported_healthy() is True and check.answered_healthy() is True
    down = check.replaced(status=HealthStatus(False, 0, (), (), 5))
    assert down.reported_healthy() is False and down.answered_healthy() is False
    inverted = down.replaced(config=updated(config, {"inverted": True}, []))
    assert inverted.answered_healthy() is True
    disabled = down.replaced(config=updated(config, {"disabled": True}, []))
    assert disabled.answered_healthy() is True


@pytest.mark.parametrize(
    ("disabled", "inverted", "decided", "read"),
    [
        (False, False, True, True),
        (False, False, False, False),
        (False, True, True, False),  # inverted: a healthy endpoint reads unhealthy
        (False, True, False, True),
        (True, False, False, True),  # disabled: healthy whatever was decided
        (True, True, True, True),  # disabled wins over inverted
        (True, False, None, True),
        (False, False, None, None),  # no result yet: unknown (DNS answers it healthy)
        (False, True, None, None),  # nothing decided, nothing to reverse
    ],
)
def test_the_failover_reads_disabled_inverted_and_no_result(
    disabled: bool, inverted: bool, decided: bool | None, read: bool | None
) -> None:
    assert failover_healthy(disabled=disabled, inverted=inverted, decided=decided) is read


@pytest.mark.parametrize(
    ("state", "insufficient_data", "healthy"),
    [
        ("OK", "Unhealthy", True),  # the alarm's state decides while it has data
        ("ALARM", "Healthy", False),
        ("INSUFFICIENT_DATA", "Healthy", True),
        ("INSUFFICIENT_DATA", "Unhealthy", False),
        ("INSUFFICIENT_DATA", "LastKnownStatus", None),  # the status stays as it was
        (None, "Healthy", True),  # the alarm gone: as for missing data
        (None, "Unhealthy", False),
        (None, "LastKnownStatus", None),
    ],
)
def test_an_alarm_check_by_its_state_and_insufficient_data_status(
    state: str | None, insufficient_data: str, healthy: bool | None
) -> None:
    assert alarm_healthy(state, insufficient_data) is healthy


def test_a_checkers_report_read_back_as_its_result() -> None:
    assert report_healthy("Success: HTTP Status Code 200, OK") is True
    assert report_healthy("Failure: TCP connection failed (refused).") is False
    assert report_healthy("Healthy: The CloudWatch alarm has insufficient data.") is True
    assert report_healthy("Unhealthy: The CloudWatch alarm does not exist.") is False
    assert report_healthy("Pending") is None


def test_dns_answers_read_the_check_through_the_one_reading() -> None:
    """``answered_healthy`` (DNS, EventBridge's failover) is failover_healthy of the status
    the checkers keep, None (no result yet) answered as healthy."""
    config = completed(HealthCheckConfig(type="CLOUDWATCH_METRIC"))
    for disabled in (False, True):
        for inverted in (False, True):
            for status in (HealthStatus(), HealthStatus(True, 0, (), (), 9),
                           HealthStatus(False, 0, (), (), 9)):  # fmt: skip
                made = updated(config, {"disabled": disabled, "inverted": inverted}, [])
                check = HealthCheck("111111111111", "h", "r", made, 0, status=status)
                decided = status.healthy if status.checked else None
                read = failover_healthy(disabled=disabled, inverted=inverted, decided=decided)
                assert check.answered_healthy() is (read is not False)


def test_reset_elements() -> None:
    config = completed(
        HealthCheckConfig(type="HTTP", fqdn="a.example", resource_path="/x",
                          regions=("us-east-1", "us-west-1", "eu-west-1")),
    )  # fmt: skip
    reset = updated(config, {"port": 81}, ["ResourcePath", "Regions"])
    assert (reset.port, reset.resource_path, reset.regions) == (81, None, None)
    assert reset.fqdn == "a.example"
    with pytest.raises(InvalidInput, match="enumeration"):
        updated(config, {}, ["Port"])
    with pytest.raises(InvalidInput, match="cannot be updated"):
        updated(config, {"request_interval": 10}, [])
