"""RSA key pairs generated in the token by a helper process, beside the provider's own session.

The provider's one session serves every tenant's data-key seals and opens under a lock; an RSA
generation (seconds in a token) runs in ``andromede.kms.hsm_keygen`` with a session of its own,
so those go on meanwhile. What a generation leaves in the token is checked with a session of
the test's own; the helper's process is found under ``/proc`` by its command line.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pkcs11
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from pkcs11 import Attribute, ObjectClass

from andromede.kms.errors import KeyAlreadyExists, KeyDestroyed, ProviderError
from andromede.kms.hsm import Pkcs11Provider
from andromede.kms.model import data_key_aad
from andromede.object_keys import root_key_provider
from andromede.settings import Settings
from support.softhsm import SoftHsm, SoftHsmToken

HELPER_MODULE = "andromede.kms.hsm_keygen"


@pytest.fixture
def token(softhsm: SoftHsm) -> SoftHsmToken:
    return softhsm.new_token()


@pytest.fixture
def provider(token: SoftHsmToken) -> Iterator[Pkcs11Provider]:
    opened = Pkcs11Provider(token.library, token.label, token.pin)
    yield opened
    opened.close()


def ring_objects(token: SoftHsmToken, ring: str) -> dict[str, ObjectClass]:
    """Label → class of every object of the ring, seen by a session of the test's own."""
    with pkcs11.lib(token.library).get_token(token_label=token.label).open() as session:
        found = session.get_objects({Attribute.ID: b"andromede-kek:" + ring.encode()})
        return {str(one[Attribute.LABEL]): ObjectClass(one[Attribute.CLASS]) for one in found}


def helpers_running() -> int:
    """Key generation helpers that are children of this process."""
    count = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue  # ended meanwhile
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        if parent == os.getpid() and HELPER_MODULE.encode() in cmdline:
            count += 1
    return count


def wait_for_helper(deadline_seconds: float = 30.0) -> None:
    deadline = time.monotonic() + deadline_seconds
    while helpers_running() == 0:
        if time.monotonic() > deadline:
            raise AssertionError("no key generation helper started")
        time.sleep(0.002)


class Generation(threading.Thread):
    """``create_private_key`` in a thread, with its outcome and when it ran."""

    def __init__(self, provider: Pkcs11Provider, ring: str, spec: str) -> None:
        super().__init__()
        self.provider, self.ring, self.spec = provider, ring, spec
        self.public: bytes | None = None
        self.error: Exception | None = None
        self.started_at = self.ended_at = 0.0

    def run(self) -> None:
        self.started_at = time.monotonic()
        try:
            self.public = self.provider.create_private_key(self.ring, self.spec)
        except Exception as exc:  # the test reads it
            self.error = exc
        finally:
            self.ended_at = time.monotonic()


def test_other_rings_seal_and_open_while_an_rsa_key_is_generated(
    provider: Pkcs11Provider,
) -> None:
    provider.create_tenant_key("signing")
    provider.create_tenant_key("busy-tenant")
    aad = data_key_aad("busy-tenant", 1)
    generation = Generation(provider, "signing", "RSA_4096")
    finished: list[float] = []
    generation.start()
    while generation.is_alive():
        sealed = provider.seal("busy-tenant", 1, b"k" * 32, aad)
        assert provider.open("busy-tenant", 1, sealed, aad) == b"k" * 32
        finished.append(time.monotonic())
    generation.join()
    assert generation.error is None and generation.public is not None
    # With the session's lock held through the generation, nothing would finish in its second
    # half: every seal would wait for the end.
    half_way = (generation.started_at + generation.ended_at) / 2
    in_second_half = [t for t in finished if half_way <= t < generation.ended_at]
    assert len(in_second_half) >= 3, (len(finished), generation.ended_at - generation.started_at)
    public = serialization.load_der_public_key(generation.public)
    assert isinstance(public, rsa.RSAPublicKey) and public.key_size == 4096
    signature = provider.sign("signing", "RSASSA_PSS_SHA_256", b"release", digest=False)
    public.verify(
        signature,
        b"release",
        padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32),
        hashes.SHA256(),
    )


def test_a_ring_destroyed_while_its_key_is_generated_loses_the_key(
    provider: Pkcs11Provider, token: SoftHsmToken
) -> None:
    provider.create_tenant_key("doomed")
    generation = Generation(provider, "doomed", "RSA_4096")
    generation.start()
    wait_for_helper()
    provider.destroy_tenant_key("doomed")
    generation.join()
    assert isinstance(generation.error, KeyDestroyed)
    assert ring_objects(token, "doomed") == {}
    with pytest.raises(KeyDestroyed):
        provider.sign("doomed", "RSASSA_PSS_SHA_256", b"x", digest=False)


def test_a_ring_withdrawn_while_its_key_is_generated_loses_the_key(
    provider: Pkcs11Provider, token: SoftHsmToken
) -> None:
    provider.import_tenant_key("external", os.urandom(32))
    generation = Generation(provider, "external", "RSA_3072")
    generation.start()
    wait_for_helper()
    provider.withdraw_tenant_key("external")
    generation.join()
    assert generation.error is not None and "external" in str(generation.error)
    assert ring_objects(token, "external") == {}


def test_one_ring_gets_one_key_when_two_generations_race(
    provider: Pkcs11Provider, token: SoftHsmToken
) -> None:
    provider.create_tenant_key("raced")
    first = Generation(provider, "raced", "RSA_2048")
    first.start()
    wait_for_helper()
    with pytest.raises(KeyAlreadyExists):
        provider.create_private_key("raced", "RSA_2048")
    first.join()
    assert first.error is None
    assert ring_objects(token, "raced") == {
        "andromede-kek:raced:v1": ObjectClass.SECRET_KEY,
        "andromede-private:raced:RSA_2048": ObjectClass.PRIVATE_KEY,
    }


def test_a_generation_over_its_time_fails_and_leaves_the_ring_as_it_was(
    token: SoftHsmToken,
) -> None:
    hurried = Pkcs11Provider(token.library, token.label, token.pin, keygen_timeout_seconds=0.001)
    patient = Pkcs11Provider(token.library, token.label, token.pin)
    try:
        hurried.create_tenant_key("slow")
        with pytest.raises(ProviderError, match=r"took over 0\.001 s"):
            hurried.create_private_key("slow", "RSA_2048")
        assert helpers_running() == 0  # killed, not left behind
        assert list(ring_objects(token, "slow")) == ["andromede-kek:slow:v1"]
        assert patient.create_private_key("slow", "RSA_2048")
    finally:
        hurried.close()
        patient.close()


def test_a_wrong_pin_fails_the_generation_without_naming_the_pin(
    provider: Pkcs11Provider, token: SoftHsmToken
) -> None:
    # A second provider of this process shares the first one's login, so a wrong PIN shows only
    # where a process logs in on its own: in the helper.
    wrong_pin = "wrong-" + token.pin
    mistaken = Pkcs11Provider(token.library, token.label, wrong_pin)
    try:
        mistaken.create_tenant_key("ring")
        with pytest.raises(ProviderError, match="the PIN is wrong") as raised:
            mistaken.create_private_key("ring", "RSA_2048")
        assert wrong_pin not in str(raised.value) and token.pin not in str(raised.value)
        assert list(ring_objects(token, "ring")) == ["andromede-kek:ring:v1"]
    finally:
        mistaken.close()


@pytest.mark.parametrize(
    "request_text",
    [
        "not json",
        json.dumps({"pin": "s3cret-pin-value"}),
        json.dumps(
            {
                "library": "/nonexistent/s3cret-pin-value.so",
                "token": "t",
                "pin": "s3cret-pin-value",
                "tenant": "ring",
                "key_spec": "RSA_2048",
                "rsa_decrypt": False,
            }
        ),
        json.dumps(
            {
                "library": "x",
                "token": "t",
                "pin": "s3cret-pin-value",
                "tenant": "ring",
                "key_spec": "ECC_NIST_P256",
                "rsa_decrypt": False,
            }
        ),
    ],
)
def test_the_helper_answers_a_bad_request_with_its_kind_only(request_text: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", HELPER_MODULE],
        input=request_text.encode(),
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    answer = json.loads(done.stdout)
    assert list(answer) == ["error"] and answer["error"]
    assert b"s3cret-pin-value" not in done.stdout + done.stderr
    assert done.stderr == b""


def test_the_timeout_is_the_setting(token: SoftHsmToken, tmp_path: Path) -> None:
    pin_file = tmp_path / "pin"
    pin_file.write_text(token.pin + "\n")
    settings = Settings(
        data_dir=tmp_path,
        key_provider="pkcs11",
        pkcs11_library=Path(token.library),
        pkcs11_token_label=token.label,
        pkcs11_pin_file=pin_file,
        pkcs11_keygen_timeout=0.002,
    )
    provider = root_key_provider(settings)
    try:
        provider.create_tenant_key("ring")
        with pytest.raises(ProviderError, match=r"took over 0\.002 s"):
            provider.create_private_key("ring", "RSA_2048")
    finally:
        provider.close()
    assert Settings().pkcs11_keygen_timeout == 300.0
