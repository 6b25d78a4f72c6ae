"""The compute model: ids, the lifecycle table (with properties), rules, tags, key pairs."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from hypothesis import given
from hypothesis import strategies as st

from andromede.compute import keypairs
from andromede.compute.errors import IncorrectInstanceState, InvalidId, InvalidParameterValue
from andromede.compute.model import (
    ABANDONED_AFTER,
    TRANSITIONS,
    Event,
    InstanceState,
    VolumeModification,
    VolumeModificationState,
    check_id,
    check_tags,
    merge_tags,
    new_id,
    next_state,
    parse_rule,
    remove_tags,
)

S = InstanceState


@pytest.mark.parametrize("prefix", ["i", "ami", "vol", "snap", "sg", "key", "import-ami"])
def test_new_ids_are_ec2_shaped(prefix: str) -> None:
    made = new_id(prefix)
    assert made.startswith(prefix + "-")
    assert len(made) == len(prefix) + 18
    assert check_id(made, prefix) == made


@pytest.mark.parametrize("value", ["i-xyz", "vol-0123456789abcdef0", "i-0123456789ABCDEF0", ""])
def test_malformed_ids_are_refused(value: str) -> None:
    with pytest.raises(InvalidId):
        check_id(value, "i")


def test_state_codes_are_ec2s() -> None:
    codes = {state.label: state.code for state in S}
    assert codes == {
        "pending": 0,
        "running": 16,
        "shutting-down": 32,
        "terminated": 48,
        "stopping": 64,
        "stopped": 80,
    }


def test_the_documented_transitions() -> None:
    assert next_state(S.STOPPED, Event.START) is S.PENDING
    assert next_state(S.RUNNING, Event.TERMINATE) is S.SHUTTING_DOWN
    assert next_state(S.STOPPED, Event.TERMINATE) is S.SHUTTING_DOWN
    assert next_state(S.RUNNING, Event.REBOOT) is S.RUNNING
    assert next_state(S.PENDING, Event.LAUNCHED) is S.RUNNING
    assert next_state(S.SHUTTING_DOWN, Event.TERMINATED) is S.TERMINATED
    for refused in [
        (S.TERMINATED, Event.START),
        (S.RUNNING, Event.START),
        (S.STOPPED, Event.REBOOT),
        (S.TERMINATED, Event.TERMINATE),
    ]:
        with pytest.raises(IncorrectInstanceState):
            next_state(*refused, "i-0123456789abcdef0")


@given(st.sampled_from(list(S)), st.sampled_from(list(Event)))
def test_every_event_is_either_in_the_table_or_refused(state: S, event: Event) -> None:
    if (state, event) in TRANSITIONS:
        assert next_state(state, event) is TRANSITIONS[(state, event)]
    else:
        with pytest.raises(IncorrectInstanceState):
            next_state(state, event)


@given(st.lists(st.sampled_from(list(Event)), max_size=30))
def test_terminated_is_final_and_reachable_only_through_shutting_down(events: list[Event]) -> None:
    state = S.PENDING
    for event in events:
        previous = state
        try:
            state = next_state(state, event)
        except IncorrectInstanceState:
            continue
        if state is S.TERMINATED:
            assert previous is S.SHUTTING_DOWN
        assert previous is not S.TERMINATED


def test_rules_are_validated_and_normalised() -> None:
    assert parse_rule("TCP", 22, 22, "10.0.0.0/8").protocol == "tcp"
    assert parse_rule("-1", None, None, "::/0").from_port == -1
    assert parse_rule("6", 80, 443, "192.168.1.0/24").to_port == 443
    for bad in [
        ("tcp", 22, 22, "10.0.0.300/8"),
        ("tcp", 22, 22, "10.0.0.1/8"),
        ("tcp", 22, 22, "nonsense"),
        ("tcp", 80, 22, "0.0.0.0/0"),
        ("tcp", None, None, "0.0.0.0/0"),
        ("gre", 1, 1, "0.0.0.0/0"),
        ("udp", 0, 70000, "0.0.0.0/0"),
    ]:
        with pytest.raises(InvalidParameterValue):
            parse_rule(*bad)


def test_icmp_rules_take_a_type_and_a_code_as_ec2_does() -> None:
    # FromPort is the ICMP type, ToPort its code, -1 for all (decision 0130).
    echo = parse_rule("icmp", 8, -1, "0.0.0.0/0")
    assert (echo.protocol, echo.from_port, echo.to_port) == ("icmp", 8, -1)
    assert (
        parse_rule("1", 3, 4, "0.0.0.0/0").from_port,
        parse_rule("1", -1, -1, "::/0").to_port,
    ) == (3, -1)
    for low, high, message in [
        (None, None, "Must specify both from and to ports with ICMP"),
        (8, None, "Must specify both from and to ports with ICMP"),
        (256, 0, r"ICMP type \(256\) out of range"),
        (-2, -1, r"ICMP type \(-2\) out of range"),
        (0, 65535, r"ICMP code \(65535\) out of range"),
        (-1, 0, r"ICMP code \(0\) out of range: with all ICMP types"),
    ]:
        with pytest.raises(InvalidParameterValue, match=message):
            parse_rule("icmp", low, high, "0.0.0.0/0")
    # A rule to revoke may name one authorised before EC2's checks were made here.
    assert parse_rule("icmp", None, None, "0.0.0.0/0", revoking=True).from_port == -1
    assert parse_rule("icmp", -1, 0, "0.0.0.0/0", revoking=True).to_port == 0
    with pytest.raises(InvalidParameterValue):
        parse_rule("icmp", 256, 0, "0.0.0.0/0", revoking=True)


def test_tags() -> None:
    assert merge_tags((("a", "1"), ("b", "2")), (("a", "3"),)) == (("a", "3"), ("b", "2"))
    assert remove_tags((("a", "1"), ("b", "2")), {"a": None, "b": "other"}) == (("b", "2"),)
    for bad in [
        (("aws:x", "1"),),
        (("", "1"),),
        (("k", "v" * 257),),
        tuple((str(n), "") for n in range(51)),
    ]:
        with pytest.raises(InvalidParameterValue):
            check_tags(bad)


def test_created_rsa_fingerprint_is_sha1_of_pkcs8_der() -> None:
    made = keypairs.generate("rsa")
    private = serialization.load_pem_private_key(made.private_key.encode(), None)
    der = private.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    assert made.fingerprint == ":".join(f"{b:02x}" for b in hashlib.sha1(der).digest())  # noqa: S324
    assert made.public_key.startswith("ssh-rsa ")
    assert "BEGIN RSA PRIVATE KEY" in made.private_key


def test_imported_rsa_fingerprint_is_md5_of_the_public_der() -> None:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    line = private.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    der = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    imported = keypairs.import_public_key(line + b" me@host")
    assert imported.fingerprint == ":".join(f"{b:02x}" for b in hashlib.md5(der).digest())  # noqa: S324


def test_ed25519_fingerprint_is_base64_sha256_of_the_blob() -> None:
    made = keypairs.generate("ed25519")
    blob = base64.b64decode(made.public_key.split()[1])
    assert made.fingerprint == base64.b64encode(hashlib.sha256(blob).digest()).decode()
    public = ed25519.Ed25519PrivateKey.generate().public_key()
    line = public.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    assert keypairs.import_public_key(line).key_type == "ed25519"


@pytest.mark.parametrize("material", [b"not a key", b"ssh-rsa AAAA", "é".encode()])
def test_bad_public_keys_are_refused(material: bytes) -> None:
    with pytest.raises(InvalidParameterValue):
        keypairs.import_public_key(material)


def test_a_volume_modification_moves_only_as_its_table_allows() -> None:
    started = datetime(2026, 1, 1, tzinfo=UTC)
    modifying = VolumeModification(VolumeModificationState.MODIFYING, 1, 2, started)
    assert not modifying.settled and modifying.progress == 0 and modifying.ended_at is None
    later = started + timedelta(seconds=3)
    done = modifying.moved_to(VolumeModificationState.COMPLETED, later)
    assert done.settled and done.progress == 100 and done.ended_at == later
    failed = modifying.moved_to(VolumeModificationState.FAILED, later, "no")
    assert failed.settled and failed.status_message == "no" and failed.progress == 0
    for settled in (done, failed):
        for state in VolumeModificationState:
            with pytest.raises(ValueError, match="cannot go from"):
                settled.moved_to(state, later)
    with pytest.raises(ValueError, match="cannot go from"):
        modifying.moved_to(VolumeModificationState.MODIFYING, later)
    # Abandoned by its gateway: failed once ABANDONED_AFTER has passed, not before.
    assert modifying.seen_at(started + ABANDONED_AFTER - timedelta(seconds=1)) == modifying
    abandoned = modifying.seen_at(started + ABANDONED_AFTER)
    assert abandoned.state is VolumeModificationState.FAILED and abandoned.settled
    assert done.seen_at(started + 10 * ABANDONED_AFTER) == done
