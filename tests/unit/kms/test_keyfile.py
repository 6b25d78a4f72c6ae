"""The local key-file provider's own promises: file modes, atomic rewrites, refusals."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from andromede.kms import asymmetric, mac
from andromede.kms.errors import (
    KeyAlreadyExists,
    KeyDestroyed,
    KeyNotFound,
    KeyWithdrawn,
    ProviderError,
)
from andromede.kms.keyfile import KEYSTORE_FILE, ROOT_KEY_FILE, LocalKeyFileProvider
from andromede.kms.model import data_key_aad

AAD = data_key_aad("tenant-a", 1)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_files_are_private_to_their_owner(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    LocalKeyFileProvider(keys).create_tenant_key("tenant-a")
    assert mode(keys) == 0o700
    assert mode(keys / ROOT_KEY_FILE) == 0o600
    assert mode(keys / KEYSTORE_FILE) == 0o600


def test_the_data_dir_layout(tmp_path: Path) -> None:
    LocalKeyFileProvider.in_data_dir(tmp_path).create_tenant_key("tenant-a")
    assert (tmp_path / "keys" / ROOT_KEY_FILE).is_file()


def test_a_root_key_file_others_can_read_is_refused(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    LocalKeyFileProvider(keys)
    (keys / ROOT_KEY_FILE).chmod(0o640)
    with pytest.raises(ProviderError, match="0600"):
        LocalKeyFileProvider(keys)


def test_a_lost_root_key_is_never_silently_replaced(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    LocalKeyFileProvider(keys).create_tenant_key("tenant-a")
    (keys / ROOT_KEY_FILE).unlink()
    with pytest.raises(ProviderError, match="missing"):
        LocalKeyFileProvider(keys)


def test_another_root_key_cannot_open_the_keystore(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    provider = LocalKeyFileProvider(keys)
    provider.create_tenant_key("tenant-a")
    (keys / ROOT_KEY_FILE).write_text(
        "andromede-root-key-v1:" + base64.b64encode(os.urandom(32)).decode() + "\n"
    )
    with pytest.raises(ProviderError, match="failed authentication"):
        LocalKeyFileProvider(keys).seal("tenant-a", 1, os.urandom(32), AAD)


@pytest.mark.parametrize(
    "content", [b"", b"not a key", b"andromede-root-key-v1:" + base64.b64encode(b"short")]
)
def test_a_malformed_root_key_file_is_refused(tmp_path: Path, content: bytes) -> None:
    keys = tmp_path / "keys"
    keys.mkdir(mode=0o700)
    root = keys / ROOT_KEY_FILE
    root.write_bytes(content)
    root.chmod(0o600)
    with pytest.raises(ProviderError):
        LocalKeyFileProvider(keys)


def test_the_keystore_holds_only_sealed_keys_and_tombstones(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    provider = LocalKeyFileProvider(keys)
    provider.create_tenant_key("tenant-a")
    provider.create_tenant_key("tenant-b")
    before = json.loads((keys / KEYSTORE_FILE).read_text())
    assert before["format"] == 1
    sealed_a = before["tenants"]["tenant-a"]["1"]
    assert len(base64.b64decode(sealed_a)) == 12 + 32 + 16  # nonce | KEK | tag

    provider.destroy_tenant_key("tenant-a")
    raw = (keys / KEYSTORE_FILE).read_text()
    after = json.loads(raw)
    assert "tenant-a" not in after["tenants"] and "tenant-a" in after["destroyed"]
    assert sealed_a not in raw  # the only copy of tenant-a's KEK is gone from the file
    assert sorted(p.name for p in keys.iterdir()) == sorted(
        [ROOT_KEY_FILE, KEYSTORE_FILE, "keystore.lock"]
    )  # no temporary file left behind


def test_a_damaged_keystore_is_an_error_not_an_empty_store(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    LocalKeyFileProvider(keys).create_tenant_key("tenant-a")
    (keys / KEYSTORE_FILE).write_text("{not json")
    with pytest.raises(ProviderError, match="not valid"):
        LocalKeyFileProvider(keys).list_tenants()
    (keys / KEYSTORE_FILE).write_text(json.dumps({"format": 99, "tenants": {}, "destroyed": {}}))
    with pytest.raises(ProviderError, match="format"):
        LocalKeyFileProvider(keys).list_tenants()


def test_restoring_an_old_keystore_copy_undoes_shredding(tmp_path: Path) -> None:
    """The documented limit: a keystore backup plus the root key brings keys back."""
    keys = tmp_path / "keys"
    provider = LocalKeyFileProvider(keys)
    provider.create_tenant_key("tenant-a")
    data_key = os.urandom(32)
    sealed = provider.seal("tenant-a", 1, data_key, AAD)
    backup = (keys / KEYSTORE_FILE).read_bytes()
    provider.destroy_tenant_key("tenant-a")
    with pytest.raises(KeyDestroyed):
        provider.open("tenant-a", 1, sealed, AAD)
    (keys / KEYSTORE_FILE).write_bytes(backup)
    assert LocalKeyFileProvider(keys).open("tenant-a", 1, sealed, AAD) == data_key


CREATE_TENANTS = """
import sys
from pathlib import Path
from andromede.kms.keyfile import LocalKeyFileProvider
provider = LocalKeyFileProvider(Path(sys.argv[1]))
for index in range(15):
    provider.create_tenant_key(f"{sys.argv[2]}-{index}")
"""


def test_concurrent_processes_lose_no_change(tmp_path: Path) -> None:
    # Each change is read-modify-write of one file: without the lock, writers overwrite
    # each other's tenants.
    keys = tmp_path / "keys"
    LocalKeyFileProvider(keys)
    workers = [
        subprocess.Popen([sys.executable, "-c", CREATE_TENANTS, str(keys), f"p{n}"])
        for n in range(4)
    ]
    for worker in workers:
        assert worker.wait(timeout=60) == 0
    assert len(LocalKeyFileProvider(keys).list_tenants()) == 60


class CountingKekOpens(LocalKeyFileProvider):
    """The real provider, counting how often a KEK is unsealed under the root key."""

    kek_opens = 0

    def _open_kek(self, tenant_id: str, version: int, sealed: bytes) -> bytes:
        self.kek_opens += 1
        return super()._open_kek(tenant_id, version, sealed)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_an_opened_kek_is_reused_for_a_bounded_time(tmp_path: Path) -> None:
    clock = Clock()
    provider = CountingKekOpens(tmp_path / "keys", kek_cache_seconds=10, clock=clock)
    provider.create_tenant_key("tenant-a")
    data_key = os.urandom(32)
    sealed = provider.seal("tenant-a", 1, data_key, AAD)
    assert provider.open("tenant-a", 1, sealed, AAD) == data_key
    assert provider.kek_opens == 1
    clock.now += 10
    provider.seal("tenant-a", 1, data_key, AAD)
    assert provider.kek_opens == 2


def test_no_kek_is_kept_with_a_zero_lifetime(tmp_path: Path) -> None:
    provider = CountingKekOpens(tmp_path / "keys", kek_cache_seconds=0)
    provider.create_tenant_key("tenant-a")
    sealed = provider.seal("tenant-a", 1, os.urandom(32), AAD)
    provider.open("tenant-a", 1, sealed, AAD)
    assert provider.kek_opens == 2


def test_a_cached_kek_dies_with_its_tenant_here_and_in_other_processes(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    here = LocalKeyFileProvider(keys)
    there = LocalKeyFileProvider(keys)  # another worker process sharing the files
    here.create_tenant_key("tenant-a")
    here.create_tenant_key("tenant-b")
    sealed_a = here.seal("tenant-a", 1, os.urandom(32), AAD)
    sealed_b = there.seal("tenant-b", 1, os.urandom(32), data_key_aad("tenant-b", 1))
    there.open("tenant-a", 1, sealed_a, AAD)  # both KEKs are now cached in both
    here.open("tenant-b", 1, sealed_b, data_key_aad("tenant-b", 1))
    here.destroy_tenant_key("tenant-a")
    there.destroy_tenant_key("tenant-b")
    for provider in (here, there):
        with pytest.raises(KeyDestroyed):
            provider.open("tenant-a", 1, sealed_a, AAD)
        with pytest.raises(KeyDestroyed):
            provider.open("tenant-b", 1, sealed_b, data_key_aad("tenant-b", 1))
        with pytest.raises(KeyDestroyed):
            provider.seal("tenant-a", 1, os.urandom(32), AAD)


def test_a_cached_kek_is_not_used_once_the_keystore_entry_changed(tmp_path: Path) -> None:
    # A keystore restored or rewritten by another process: the entry on disk now is what
    # counts, never a KEK opened from an earlier one.
    keys = tmp_path / "keys"
    provider = CountingKekOpens(keys)
    provider.create_tenant_key("tenant-a")
    sealed = provider.seal("tenant-a", 1, os.urandom(32), AAD)
    document = json.loads((keys / KEYSTORE_FILE).read_bytes())
    document["tenants"]["tenant-a"]["1"] = base64.b64encode(os.urandom(60)).decode()
    (keys / KEYSTORE_FILE).write_text(json.dumps(document))
    with pytest.raises(ProviderError, match="failed authentication"):
        provider.open("tenant-a", 1, sealed, AAD)
    assert provider.kek_opens == 2


def test_another_workers_destruction_arrives_within_the_recheck_interval(tmp_path: Path) -> None:
    keys, clock = tmp_path / "keys", Clock()
    here = LocalKeyFileProvider(keys, recheck_seconds=1, clock=clock)
    there = LocalKeyFileProvider(keys)  # another worker process sharing the files
    here.create_tenant_key("tenant-a")
    sealed = here.seal("tenant-a", 1, os.urandom(32), AAD)
    there.destroy_tenant_key("tenant-a")
    clock.now += 0.5
    here.open("tenant-a", 1, sealed, AAD)  # not rechecked yet: the documented window
    clock.now += 0.5
    with pytest.raises(KeyDestroyed):
        here.open("tenant-a", 1, sealed, AAD)


def test_keys_another_worker_created_are_found_at_once(tmp_path: Path) -> None:
    keys, clock = tmp_path / "keys", Clock()
    here = LocalKeyFileProvider(keys, recheck_seconds=60, clock=clock)
    there = LocalKeyFileProvider(keys)
    here.create_tenant_key("tenant-a")
    there.create_tenant_key("tenant-b")
    assert here.tenant_key_ring("tenant-b").versions == (1,)
    there.rotate_tenant_key("tenant-a")
    sealed = there.seal("tenant-a", 2, b"k" * 32, data_key_aad("tenant-a", 2))
    assert here.open("tenant-a", 2, sealed, data_key_aad("tenant-a", 2)) == b"k" * 32
    assert here.list_tenants() == ["tenant-a", "tenant-b"]


def test_a_change_here_is_seen_here_at_once(tmp_path: Path) -> None:
    clock = Clock()
    provider = LocalKeyFileProvider(tmp_path / "keys", recheck_seconds=60, clock=clock)
    provider.create_tenant_key("tenant-a")
    sealed = provider.seal("tenant-a", 1, os.urandom(32), AAD)
    provider.destroy_tenant_key("tenant-a")
    with pytest.raises(KeyDestroyed):
        provider.open("tenant-a", 1, sealed, AAD)


# --- imported key material --------------------------------------------------------------------


def test_imported_material_is_never_in_the_key_files_in_clear(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    provider = LocalKeyFileProvider(keys)
    material = os.urandom(32)
    provider.import_tenant_key("tenant-a", material)
    provider.seal("tenant-a", 1, os.urandom(32), AAD)  # opened once, and cached
    sealed = json.loads((keys / KEYSTORE_FILE).read_text())["tenants"]["tenant-a"]["1"]
    assert len(base64.b64decode(sealed)) == 12 + 32 + 16  # nonce | KEK | tag, as generated
    # Any base64 run holding the material holds one of these, whatever its offset in the run.
    encoded = [base64.b64encode(material[shift : shift + 27]) for shift in range(3)]
    forms = [material, material.hex().encode(), material.hex().upper().encode(), *encoded]
    forms += [form.replace(b"+", b"-").replace(b"/", b"_") for form in encoded]
    for path in keys.iterdir():
        content = path.read_bytes()
        assert not any(form in content for form in forms), path.name


def test_a_cached_kek_dies_with_a_withdrawal_here_and_in_other_processes(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    here = CountingKekOpens(keys)
    there = LocalKeyFileProvider(keys)  # another worker process sharing the files
    material_a, material_b = os.urandom(32), os.urandom(32)
    aad_b = data_key_aad("tenant-b", 1)
    here.import_tenant_key("tenant-a", material_a)
    here.import_tenant_key("tenant-b", material_b)
    sealed_a = here.seal("tenant-a", 1, os.urandom(32), AAD)
    sealed_b = there.seal("tenant-b", 1, os.urandom(32), aad_b)
    there.open("tenant-a", 1, sealed_a, AAD)  # both KEKs are now cached in both
    here.open("tenant-b", 1, sealed_b, aad_b)
    here.withdraw_tenant_key("tenant-a")
    there.withdraw_tenant_key("tenant-b")
    for provider in (here, there):
        with pytest.raises(KeyWithdrawn):
            provider.open("tenant-a", 1, sealed_a, AAD)
        with pytest.raises(KeyWithdrawn):
            provider.open("tenant-b", 1, sealed_b, aad_b)
        with pytest.raises(KeyWithdrawn):
            provider.seal("tenant-a", 1, os.urandom(32), AAD)
    # Imported again: a new keystore entry, so the KEK is opened from it, not from a cache.
    opens = here.kek_opens
    there.import_tenant_key("tenant-a", material_a)
    here.open("tenant-a", 1, sealed_a, AAD)
    assert here.kek_opens == opens + 1


def test_another_workers_withdrawal_arrives_within_the_recheck_interval(tmp_path: Path) -> None:
    keys, clock = tmp_path / "keys", Clock()
    here = LocalKeyFileProvider(keys, recheck_seconds=1, clock=clock)
    there = LocalKeyFileProvider(keys)  # another worker process sharing the files
    material = os.urandom(32)
    here.import_tenant_key("tenant-a", material)
    sealed = here.seal("tenant-a", 1, os.urandom(32), AAD)
    there.withdraw_tenant_key("tenant-a")
    clock.now += 0.5
    here.open("tenant-a", 1, sealed, AAD)  # not rechecked yet: the documented window
    here.check_usable("tenant-a")
    clock.now += 0.5
    with pytest.raises(KeyWithdrawn):
        here.check_usable("tenant-a")
    with pytest.raises(KeyNotFound):
        here.open("tenant-a", 1, sealed, AAD)


def test_material_another_worker_imported_is_found_at_once(tmp_path: Path) -> None:
    # An object PUT by one worker and read by another at once: the ring must not look empty
    # (withdrawn) to the reader until its next recheck.
    keys, clock = tmp_path / "keys", Clock()
    here = LocalKeyFileProvider(keys, recheck_seconds=60, clock=clock)
    there = LocalKeyFileProvider(keys)
    material = os.urandom(32)
    with pytest.raises(KeyWithdrawn):
        here.check_usable("tenant-a")
    there.import_tenant_key("tenant-a", material)
    here.check_usable("tenant-a")
    sealed = there.seal("tenant-a", 1, b"k" * 32, AAD)
    here.withdraw_tenant_key("tenant-a")
    there.import_tenant_key("tenant-a", material)
    here.check_usable("tenant-a")
    assert here.open("tenant-a", 1, sealed, AAD) == b"k" * 32


# --- private keys (KMS asymmetric and HMAC keys) ----------------------------------------------

MESSAGE = b"the message a KMS key signs"
PRIVATE_KEYS = {  # ring -> (spec, rsa_decrypt)
    "rsa-signing": ("RSA_2048", False),
    "rsa-decrypting": ("RSA_3072", True),
    "ec-signing": ("ECC_NIST_P521", False),
    "hmac": ("HMAC_224", False),
}


def with_private_keys(keys: Path) -> LocalKeyFileProvider:
    provider = LocalKeyFileProvider(keys)
    for ring, (spec, rsa_decrypt) in PRIVATE_KEYS.items():
        provider.create_tenant_key(ring)
        provider.create_private_key(ring, spec, rsa_decrypt=rsa_decrypt)
    return provider


def opened_secret(provider: LocalKeyFileProvider, ring: str) -> bytes:
    """The PKCS#8 DER or HMAC secret the provider holds (only a test reads it so)."""
    return provider._open_private_key(ring, provider._sealed_private_key(ring))


def clear_forms(secret: bytes) -> list[bytes]:
    """``secret`` in clear, hex, or within any base64 run (whatever its offset in the run)."""
    encoded = [base64.b64encode(secret[shift : shift + 27]) for shift in range(3)]
    forms = [secret, secret.hex().encode(), secret.hex().upper().encode(), *encoded]
    return forms + [form.replace(b"+", b"-").replace(b"/", b"_") for form in encoded]


def test_private_keys_are_never_in_the_key_files_in_clear(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    provider = with_private_keys(keys)
    document = json.loads((keys / KEYSTORE_FILE).read_text())
    assert document["format"] == 2
    for ring, (spec, rsa_decrypt) in PRIVATE_KEYS.items():
        secret = opened_secret(provider, ring)
        entry = document["private"][ring]
        assert (entry["spec"], entry["decrypt"]) == (spec, rsa_decrypt)
        assert len(base64.b64decode(entry["sealed"])) == 12 + len(secret) + 16
        for path in keys.iterdir():
            content = path.read_bytes()
            assert not any(form in content for form in clear_forms(secret)), (ring, path.name)


def test_a_private_key_is_the_one_asymmetric_and_mac_use(tmp_path: Path) -> None:
    provider = with_private_keys(tmp_path / "keys")
    secret = opened_secret(provider, "hmac")
    assert len(secret) == len(mac.generate_mac_key("HMAC_224"))
    for message in (MESSAGE, b"", b"\x00" * 4096):
        assert provider.mac("hmac", "HMAC_SHA_224", message) == mac.make_mac(
            "HMAC_224", secret, "HMAC_SHA_224", message
        )
    # RSASSA-PKCS1-v1_5 is deterministic: byte for byte what asymmetric.sign makes.
    der = opened_secret(provider, "rsa-signing")
    for digest, message in ((False, MESSAGE), (True, hashlib.sha384(MESSAGE).digest())):
        assert provider.sign(
            "rsa-signing", "RSASSA_PKCS1_V1_5_SHA_384", message, digest=digest
        ) == asymmetric.sign("RSA_2048", der, "RSASSA_PKCS1_V1_5_SHA_384", message, digest=digest)
    der = opened_secret(provider, "rsa-decrypting")
    public = (
        serialization.load_der_private_key(der, None)
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    ciphertext = asymmetric.rsa_encrypt(public, "RSAES_OAEP_SHA_256", b"secret")
    assert provider.decrypt_private("rsa-decrypting", "RSAES_OAEP_SHA_256", ciphertext) == (
        asymmetric.rsa_decrypt(der, "RSAES_OAEP_SHA_256", ciphertext)
    )


def test_the_keystore_format_says_whether_it_holds_private_keys(tmp_path: Path) -> None:
    # Code that knows format 1 only refuses any other, and would drop the private section on
    # its next rewrite: so a keystore with private keys is format 2, one without is format 1.
    keys = tmp_path / "keys"
    provider = LocalKeyFileProvider(keys)
    provider.create_tenant_key("tenant-a")
    sealed = provider.seal("tenant-a", 1, b"k" * 32, AAD)
    assert json.loads((keys / KEYSTORE_FILE).read_text())["format"] == 1
    provider.create_tenant_key("kms-key")
    LocalKeyFileProvider(keys).create_private_key("kms-key", "HMAC_256")  # a format 1 file read
    document = json.loads((keys / KEYSTORE_FILE).read_text())
    assert document["format"] == 2 and list(document["private"]) == ["kms-key"]
    assert LocalKeyFileProvider(keys).open("tenant-a", 1, sealed, AAD) == b"k" * 32
    provider.destroy_tenant_key("kms-key")
    document = json.loads((keys / KEYSTORE_FILE).read_text())
    assert document["format"] == 1 and "private" not in document


def test_a_keystore_format_is_refused_when_it_is_not_what_it_says(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    with_private_keys(keys)
    good = json.loads((keys / KEYSTORE_FILE).read_text())

    def refused(document: dict[str, Any], match: str) -> None:
        (keys / KEYSTORE_FILE).write_text(json.dumps(document))
        with pytest.raises(ProviderError, match=match):
            LocalKeyFileProvider(keys).list_tenants()

    refused({**good, "format": 1}, "not valid")  # format 1 has no private keys
    refused({key: value for key, value in good.items() if key != "private"}, "not valid")
    refused({**good, "format": 3}, "not valid")  # format 3 has a pending section
    refused({**good, "format": 4}, "format 4 is not supported")
    for damage in ({"spec": "RSA_1024"}, {"decrypt": "yes"}, {"sealed": "not base64!"}):
        entry = {**good["private"]["hmac"], **damage}
        refused({**good, "private": {**good["private"], "hmac": entry}}, "not valid")


@pytest.mark.parametrize(
    "swap",
    ["another ring's key", "another spec", "another usage", "a KEK entry"],
)
def test_a_private_key_entry_opens_only_where_it_was_sealed(tmp_path: Path, swap: str) -> None:
    keys = tmp_path / "keys"
    with_private_keys(keys)
    document = json.loads((keys / KEYSTORE_FILE).read_text())
    private = document["private"]
    ring, call = "rsa-signing", "sign"
    if swap == "another ring's key":
        ring, call = "hmac", "mac"
        private["hmac"]["sealed"] = private["rsa-signing"]["sealed"]
    elif swap == "another spec":
        private["rsa-signing"]["spec"] = "RSA_3072"
    elif swap == "another usage":
        ring, call = "rsa-decrypting", "sign"
        private["rsa-decrypting"]["decrypt"] = False  # a decryption key made to sign
    else:
        ring, call = "hmac", "mac"
        private["hmac"]["sealed"] = document["tenants"]["hmac"]["1"]
    (keys / KEYSTORE_FILE).write_text(json.dumps(document))
    provider = LocalKeyFileProvider(keys)
    with pytest.raises(ProviderError, match="failed authentication"):
        if call == "mac":
            provider.mac(ring, "HMAC_SHA_224", MESSAGE)
        else:
            provider.sign(ring, "RSASSA_PSS_SHA_256", MESSAGE, digest=False)


def test_a_private_key_another_worker_made_or_destroyed_is_seen(tmp_path: Path) -> None:
    keys, clock = tmp_path / "keys", Clock()
    here = LocalKeyFileProvider(keys, recheck_seconds=60, clock=clock)
    there = LocalKeyFileProvider(keys)
    here.create_tenant_key("kms-key")
    with pytest.raises(KeyNotFound):
        here.mac("kms-key", "HMAC_SHA_256", MESSAGE)
    there.create_private_key("kms-key", "HMAC_256")
    tag = here.mac("kms-key", "HMAC_SHA_256", MESSAGE)  # found at once: not there, so reloaded
    there.destroy_tenant_key("kms-key")
    assert here.mac("kms-key", "HMAC_SHA_256", MESSAGE) == tag  # the documented window
    clock.now += 60
    with pytest.raises(KeyDestroyed):
        here.mac("kms-key", "HMAC_SHA_256", MESSAGE)


def test_imported_private_keys_are_never_in_the_key_files_in_clear(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    provider = LocalKeyFileProvider(keys)
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    ec_key = ec.generate_private_key(ec.SECP521R1())
    imported = {  # ring -> (spec, rsa_decrypt, material, its secret part)
        "rsa-decrypting": (
            "RSA_3072",
            True,
            pkcs8(rsa_key),
            rsa_key.private_numbers().d.to_bytes(384),
        ),
        "ec-signing": (
            "ECC_NIST_P521",
            False,
            pkcs8(ec_key),
            ec_key.private_numbers().private_value.to_bytes(66),
        ),
        "hmac": ("HMAC_512", False, os.urandom(128), b""),
    }
    for ring, (spec, rsa_decrypt, material, _) in imported.items():
        provider.create_tenant_key(ring)
        provider.import_private_key(ring, spec, material, rsa_decrypt=rsa_decrypt)
    document = json.loads((keys / KEYSTORE_FILE).read_text())
    assert document["format"] == 2
    for ring, (spec, rsa_decrypt, material, secret_part) in imported.items():
        entry = document["private"][ring]
        assert (entry["spec"], entry["decrypt"]) == (spec, rsa_decrypt)
        # Kept as a generated key is: the PKCS#8 DER (cryptography's, as this material is),
        # or the secret as given, sealed: nonce | key | tag.
        assert opened_secret(provider, ring) == material
        assert len(base64.b64decode(entry["sealed"])) == 12 + len(material) + 16
        forms = clear_forms(material) + clear_forms(material[-64:])
        forms += clear_forms(secret_part) if secret_part else []
        for path in keys.iterdir():
            content = path.read_bytes()
            assert not any(form in content for form in forms), (ring, path.name)


def pkcs8(private: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> bytes:
    return private.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def test_a_key_agreement_entry_says_derive_and_its_usage_is_bound(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    provider = LocalKeyFileProvider(keys)
    for ring in ("agreeing", "signing"):
        provider.create_tenant_key(ring)
    provider.create_private_key("agreeing", "ECC_NIST_P256", key_agreement=True)
    provider.create_private_key("signing", "ECC_NIST_P256")
    document = json.loads((keys / KEYSTORE_FILE).read_text())
    # Only a key agreement entry carries the flag: the other entries are written as before.
    assert document["private"]["agreeing"]["derive"] is True
    assert "derive" not in document["private"]["signing"]
    peer = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    assert len(provider.derive_shared_secret("agreeing", "ECDH", peer)) == 32
    # Its usage changed in the file: the entry no longer opens, whatever it is then asked.
    del document["private"]["agreeing"]["derive"]
    document["private"]["signing"]["derive"] = True
    (keys / KEYSTORE_FILE).write_text(json.dumps(document))
    tampered = LocalKeyFileProvider(keys)
    with pytest.raises(ProviderError, match="failed authentication"):
        tampered.sign("agreeing", "ECDSA_SHA_256", MESSAGE, digest=False)
    with pytest.raises(ProviderError, match="failed authentication"):
        tampered.derive_shared_secret("signing", "ECDH", peer)
    document["private"]["signing"]["derive"] = "yes"
    (keys / KEYSTORE_FILE).write_text(json.dumps(document))
    with pytest.raises(ProviderError, match="not valid"):
        LocalKeyFileProvider(keys).list_tenants()


# --- pending (staged) imported material --------------------------------------------------------


def staged(keys: Path) -> tuple[LocalKeyFileProvider, bytes]:
    """A provider whose ring ``tenant-a`` has version 1 live and version 2 pending, and the
    pending version's material."""
    provider = LocalKeyFileProvider(keys)
    provider.import_tenant_key("tenant-a", os.urandom(32))
    material = os.urandom(32)
    provider.import_tenant_key("tenant-a", material, version=2, pending=True)
    return provider, material


def test_pending_material_is_never_in_the_key_files_in_clear(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    provider, material = staged(keys)
    document = json.loads((keys / KEYSTORE_FILE).read_text())
    pending = document["pending"]["tenant-a"]["2"]
    assert len(base64.b64decode(pending)) == 12 + 32 + 16  # nonce | KEK | tag, as a live one
    assert list(document["tenants"]["tenant-a"]) == ["1"]

    def nowhere_in_clear() -> None:
        for path in keys.iterdir():
            content = path.read_bytes()
            assert not any(form in content for form in clear_forms(material)), path.name

    nowhere_in_clear()
    provider.promote_tenant_key("tenant-a", 2)
    provider.seal("tenant-a", 2, os.urandom(32), data_key_aad("tenant-a", 2))  # opened, cached
    document = json.loads((keys / KEYSTORE_FILE).read_text())
    # Sealed again as a live KEK: a new entry, not the pending one moved.
    live = document["tenants"]["tenant-a"]["2"]
    assert live != pending and len(base64.b64decode(live)) == 12 + 32 + 16
    assert "pending" not in document
    nowhere_in_clear()


def test_the_keystore_format_says_whether_it_holds_pending_versions(tmp_path: Path) -> None:
    # Code that knows formats 1 and 2 only refuses any other, and would drop the pending
    # section on its next rewrite: so a keystore with pending versions is format 3, and one
    # without is written byte for byte as before they existed.
    keys = tmp_path / "keys"
    provider = LocalKeyFileProvider(keys)
    provider.import_tenant_key("tenant-a", os.urandom(32))
    before = (keys / KEYSTORE_FILE).read_bytes()
    assert json.loads(before)["format"] == 1
    LocalKeyFileProvider(keys).import_tenant_key(  # a format 1 file read
        "tenant-a", os.urandom(32), version=2, pending=True
    )
    document = json.loads((keys / KEYSTORE_FILE).read_text())
    assert document["format"] == 3
    assert list(document) == ["format", "tenants", "destroyed", "private", "pending"]
    assert document["private"] == {} and list(document["pending"]) == ["tenant-a"]
    provider.withdraw_tenant_key("tenant-a", 2)
    assert (keys / KEYSTORE_FILE).read_bytes() == before  # format 1 again, every byte

    # With private keys: format 2, then 3 with them kept, then 2 again, byte for byte.
    provider.create_tenant_key("kms-key")
    provider.create_private_key("kms-key", "HMAC_256")
    before = (keys / KEYSTORE_FILE).read_bytes()
    assert json.loads(before)["format"] == 2
    provider.import_tenant_key("kms-key", os.urandom(32), version=2, pending=True)
    document = json.loads((keys / KEYSTORE_FILE).read_text())
    assert document["format"] == 3 and list(document["private"]) == ["kms-key"]
    tag = LocalKeyFileProvider(keys).mac("kms-key", "HMAC_SHA_256", MESSAGE)  # a format 3 file read
    assert provider.mac("kms-key", "HMAC_SHA_256", MESSAGE) == tag
    provider.withdraw_tenant_key("kms-key", 2)
    assert (keys / KEYSTORE_FILE).read_bytes() == before
    # Promoted, a pending version leaves the file as any live version would.
    provider.import_tenant_key("kms-key", os.urandom(32), version=2, pending=True)
    provider.promote_tenant_key("kms-key", 2)
    document = json.loads((keys / KEYSTORE_FILE).read_text())
    assert document["format"] == 2 and list(document) == [
        "format",
        "tenants",
        "destroyed",
        "private",
    ]
    assert list(document["tenants"]["kms-key"]) == ["1", "2"]


def test_a_keystore_with_pending_versions_is_refused_when_it_is_not_what_it_says(
    tmp_path: Path,
) -> None:
    keys = tmp_path / "keys"
    staged(keys)
    good = json.loads((keys / KEYSTORE_FILE).read_text())

    def refused(document: dict[str, Any], match: str) -> None:
        (keys / KEYSTORE_FILE).write_text(json.dumps(document))
        with pytest.raises(ProviderError, match=match):
            LocalKeyFileProvider(keys).list_tenants()

    # Formats 1 and 2 have no pending versions; format 3 has both sections.
    without_private = {key: value for key, value in good.items() if key != "private"}
    refused({**without_private, "format": 1}, "not valid")
    refused({**good, "format": 2}, "not valid")
    refused({key: value for key, value in good.items() if key != "pending"}, "not valid")
    refused(without_private, "not valid")
    refused({**good, "format": 4}, "format 4 is not supported")
    for damage in ({"2": "not base64!"}, {"two": good["pending"]["tenant-a"]["2"]}):
        refused({**good, "pending": {"tenant-a": damage}}, "not valid")


@pytest.mark.parametrize(
    "swap",
    [
        "pending entry made live",
        "live entry made pending",
        "pending entry of another version",
        "pending entry of another ring",
    ],
)
def test_a_pending_entry_opens_only_where_it_was_sealed(tmp_path: Path, swap: str) -> None:
    # Bound to the ring, the version and being pending: editing the file cannot make a staged
    # material wrap data keys, or stage a live one, without the root key.
    keys = tmp_path / "keys"
    staged(keys)
    provider = LocalKeyFileProvider(keys)
    provider.import_tenant_key("tenant-b", os.urandom(32))
    provider.import_tenant_key("tenant-b", os.urandom(32), version=2, pending=True)
    document = json.loads((keys / KEYSTORE_FILE).read_text())
    live, pending = document["tenants"], document["pending"]
    if swap == "pending entry made live":
        live["tenant-a"]["2"] = pending["tenant-a"].pop("2")
        del pending["tenant-a"]
    elif swap == "live entry made pending":
        pending["tenant-a"]["2"] = live["tenant-a"]["1"]
    elif swap == "pending entry of another version":
        pending["tenant-a"]["3"] = pending["tenant-a"].pop("2")
    else:
        pending["tenant-a"]["2"] = pending["tenant-b"]["2"]
    (keys / KEYSTORE_FILE).write_text(json.dumps(document))
    provider = LocalKeyFileProvider(keys)
    aad_2 = data_key_aad("tenant-a", 2)
    with pytest.raises(ProviderError, match="failed authentication"):
        if swap == "pending entry made live":
            provider.seal("tenant-a", 2, os.urandom(32), aad_2)
        else:
            provider.promote_tenant_key("tenant-a", 3 if "another version" in swap else 2)
    assert json.loads((keys / KEYSTORE_FILE).read_text()) == document  # nothing was written


def test_a_promotion_retried_rewrites_nothing(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    provider, _ = staged(keys)
    ring = provider.promote_tenant_key("tenant-a", 2)
    written = (keys / KEYSTORE_FILE).stat()
    assert LocalKeyFileProvider(keys).promote_tenant_key("tenant-a", 2) == ring
    provider.withdraw_tenant_key("tenant-a", 3)  # held neither live nor pending
    after = (keys / KEYSTORE_FILE).stat()
    assert (after.st_ino, after.st_mtime_ns) == (written.st_ino, written.st_mtime_ns)


def test_another_workers_version_withdrawal_arrives_within_the_recheck_interval(
    tmp_path: Path,
) -> None:
    keys, clock = tmp_path / "keys", Clock()
    here = LocalKeyFileProvider(keys, recheck_seconds=1, clock=clock)
    there = LocalKeyFileProvider(keys)  # another worker process sharing the files
    aad_2 = data_key_aad("tenant-a", 2)
    here.import_tenant_key("tenant-a", os.urandom(32))
    here.import_tenant_key("tenant-a", os.urandom(32), version=2)
    sealed_1 = here.seal("tenant-a", 1, os.urandom(32), AAD)  # both KEKs opened and cached
    sealed_2 = here.seal("tenant-a", 2, b"k" * 32, aad_2)
    there.withdraw_tenant_key("tenant-a", 1)
    clock.now += 0.5
    here.open("tenant-a", 1, sealed_1, AAD)  # not rechecked yet: the documented window
    clock.now += 0.5
    with pytest.raises(KeyNotFound) as missing:
        here.open("tenant-a", 1, sealed_1, AAD)
    assert not isinstance(missing.value, KeyWithdrawn)  # version 2 is live
    here.check_usable("tenant-a")
    assert here.open("tenant-a", 2, sealed_2, aad_2) == b"k" * 32
    # The current version withdrawn over there: within the interval, version 1 is current.
    there.import_tenant_key("tenant-a", os.urandom(32), version=1)
    there.withdraw_tenant_key("tenant-a", 2)
    assert here.current_version("tenant-a") == 2  # the documented window
    clock.now += 1
    assert here.current_version("tenant-a") == 1
    with pytest.raises(KeyNotFound):
        here.open("tenant-a", 2, sealed_2, aad_2)


def test_a_version_another_worker_staged_or_promoted_is_found_at_once(tmp_path: Path) -> None:
    keys, clock = tmp_path / "keys", Clock()
    here = LocalKeyFileProvider(keys, recheck_seconds=60, clock=clock)
    there = LocalKeyFileProvider(keys)
    aad_2 = data_key_aad("tenant-a", 2)
    here.import_tenant_key("tenant-a", os.urandom(32))
    there.import_tenant_key("tenant-a", material := os.urandom(32), version=2, pending=True)
    with pytest.raises(KeyAlreadyExists):  # the check before a change reads the file at once
        here.import_tenant_key("tenant-a", material, version=2, pending=True)
    with pytest.raises(KeyNotFound):
        here.seal("tenant-a", 2, b"k" * 32, aad_2)  # looked up at once: still pending
    assert here.promote_tenant_key("tenant-a", 2).current == 2  # promoted here, from there
    there.withdraw_tenant_key("tenant-a", 2)
    there.import_tenant_key("tenant-a", material, version=2)  # live over there at once
    sealed = there.seal("tenant-a", 2, b"k" * 32, aad_2)
    assert here.open("tenant-a", 2, sealed, aad_2) == b"k" * 32
