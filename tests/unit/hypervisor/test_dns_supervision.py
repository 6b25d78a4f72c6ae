"""Decision 0375's restart backoff (:mod:`andromede.hypervisor.dns_supervision`): a dead
process restarted at once, again after twice the wait each time it dies at once, never
beyond the cap, a burst ended by the process found running, and one log line a burst."""

from __future__ import annotations

from andromede.hypervisor.dns_supervision import DnsProcess, RestartBackoff

RESPONDER, RESOLVER = DnsProcess.RESPONDER, DnsProcess.RESOLVER


def _restart_times(backoff: RestartBackoff, until: float, step: float = 0.5) -> list[float]:
    """When a process found dead at every check, every ``step`` seconds, is restarted."""
    times, now = [], 0.0
    while now < until:
        if backoff.due("vpc-1", RESPONDER, now):
            backoff.restarting("vpc-1", RESPONDER, now)
            times.append(now)
        now += step
    return times


def test_a_process_dying_at_once_waits_twice_as_long_each_time_up_to_the_cap() -> None:
    backoff = RestartBackoff(interval=2.0, cap=16.0)
    times = _restart_times(backoff, until=80.0)
    assert times[:6] == [0.0, 2.0, 6.0, 14.0, 30.0, 46.0]
    gaps = [later - earlier for earlier, later in zip(times, times[1:], strict=False)]
    assert max(gaps) == 16.0  # bounded: never given up, never a hot loop
    assert backoff.restarts[RESPONDER] == len(times)


def test_a_process_found_running_ends_its_burst() -> None:
    backoff = RestartBackoff(interval=2.0)
    assert backoff.restarting("vpc-1", RESPONDER, 0.0)  # the first of a burst: logged
    assert not backoff.due("vpc-1", RESPONDER, 1.0)
    assert not backoff.restarting("vpc-1", RESPONDER, 2.0)  # the same burst: not logged
    assert not backoff.due("vpc-1", RESPONDER, 5.0)
    backoff.running("vpc-1", RESPONDER)
    assert backoff.due("vpc-1", RESPONDER, 5.0)
    assert backoff.restarting("vpc-1", RESPONDER, 5.0)  # a new burst: logged again
    assert backoff.restarts == {RESPONDER: 3, RESOLVER: 0, DnsProcess.FORWARDER: 0}


def test_bursts_are_per_router_and_process_and_forgotten_with_the_router() -> None:
    backoff = RestartBackoff(interval=2.0)
    backoff.restarting("vpc-1", RESPONDER, 0.0)
    assert backoff.due("vpc-1", RESOLVER, 0.5)
    assert backoff.due("vpc-2", RESPONDER, 0.5)
    assert not backoff.due("vpc-1", RESPONDER, 0.5)
    backoff.forget("vpc-1")
    assert backoff.due("vpc-1", RESPONDER, 0.5)
