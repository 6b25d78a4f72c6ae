"""The tenant-isolation matrix for KMS: every action, aimed at a victim tenant's key (named by
its ARN, its alias or one of its ciphertexts) by another tenant's root user, by an IAM user of
the victim's own account that has no policy, and by an unsigned caller.

Another tenant's root acts only on its own account: it gets an error, or an answer about its
own account, never the victim's key, data or metadata. The user without policy gets
AccessDeniedException on every action (the default key policy delegates to IAM policies, and it
has none). The unsigned caller gets MissingAuthenticationTokenException. None of them changes
anything the victim's root can read back. The recipe table must cover every action (a test
checks), so a new action cannot ship without its isolation case.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from andromede.kms.keys_store import MemoryCustomerKeyStore
from andromede.kmsapi.actions import ACTIONS
from support.kmsapp import Harness, kms_harness
from support.xks_fake import ACCESS_KEY_ID, ENDPOINT, SECRET, URI_PATH

PLAINTEXT = b"the victim's secret"
KEY = "{key}"  # the victim key's ARN
CIPHERTEXT = "{ciphertext}"  # a ciphertext under the victim's key
GRANT = "{grant}"  # the id of a grant on the victim's key
VICTIM_ROOT = "{root}"  # the ARN of the victim account's root user
STORE = "{store}"  # the id of the victim's external key store
ALIAS = "alias/victim"
OPEN_POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "kms:*", "Resource": "*"}
        ],
    }
)

XKS_STORE = {
    "CustomKeyStoreType": "EXTERNAL_KEY_STORE",
    "XksProxyUriEndpoint": ENDPOINT,
    "XksProxyUriPath": URI_PATH,
    "XksProxyAuthenticationCredential": {
        "AccessKeyId": ACCESS_KEY_ID,
        "RawSecretAccessKey": SECRET,
    },
    "XksProxyConnectivity": "PUBLIC_ENDPOINT",
}

RECIPES: dict[str, dict[str, Any]] = {
    "CancelKeyDeletion": {"KeyId": KEY},
    "ConnectCustomKeyStore": {"CustomKeyStoreId": STORE},
    "CreateCustomKeyStore": {"CustomKeyStoreName": "victim-store", **XKS_STORE},
    "DeleteCustomKeyStore": {"CustomKeyStoreId": STORE},
    "DescribeCustomKeyStores": {"CustomKeyStoreId": STORE},
    "DisconnectCustomKeyStore": {"CustomKeyStoreId": STORE},
    "UpdateCustomKeyStore": {"CustomKeyStoreId": STORE, "NewCustomKeyStoreName": "defaced"},
    "CreateAlias": {"AliasName": "alias/stolen", "TargetKeyId": KEY},
    "CreateGrant": {"KeyId": KEY, "GranteePrincipal": VICTIM_ROOT, "Operations": ["Decrypt"]},
    "CreateKey": {"Description": "mine"},
    "Decrypt": {"CiphertextBlob": CIPHERTEXT},
    "DeleteAlias": {"AliasName": ALIAS},
    "Decapsulate": {
        "KeyId": KEY,
        "SharedSecretCiphertextBlob": base64.b64encode(bytes(1088)).decode(),
        "EncapsulationAlgorithm": "ML_KEM",
    },
    "DeleteImportedKeyMaterial": {"KeyId": KEY},
    "DeriveSharedSecret": {
        "KeyId": KEY,
        "KeyAgreementAlgorithm": "ECDH",
        # An EC P-256 SubjectPublicKeyInfo (the generator point): well-formed, anyone's.
        "PublicKey": (
            "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEaxfR8uEsQkf4vOblY6RA8ncDfYEt6zOg9KE5RdiYwpZP40Li"
            "/hp/m47n60p8D54WK84zV2sxXs7LtkBoN79R9Q=="
        ),
    },
    "DescribeKey": {"KeyId": KEY},
    "DisableKey": {"KeyId": KEY},
    "DisableKeyRotation": {"KeyId": KEY},
    "EnableKey": {"KeyId": KEY},
    "EnableKeyRotation": {"KeyId": KEY},
    "Encapsulate": {"KeyId": KEY, "EncapsulationAlgorithm": "ML_KEM"},
    "Encrypt": {"KeyId": KEY, "Plaintext": base64.b64encode(b"x").decode()},
    "GenerateDataKey": {"KeyId": KEY, "KeySpec": "AES_256"},
    "GenerateDataKeyPair": {"KeyId": KEY, "KeyPairSpec": "ECC_NIST_P256"},
    "GenerateDataKeyPairWithoutPlaintext": {"KeyId": KEY, "KeyPairSpec": "ECC_NIST_P256"},
    "GenerateDataKeyWithoutPlaintext": {"KeyId": KEY, "KeySpec": "AES_256"},
    "GenerateMac": {"KeyId": KEY, "Message": "aGk=", "MacAlgorithm": "HMAC_SHA_256"},
    "GenerateRandom": {"NumberOfBytes": 16},
    "GetKeyPolicy": {"KeyId": KEY, "PolicyName": "default"},
    "GetKeyRotationStatus": {"KeyId": KEY},
    "GetParametersForImport": {
        "KeyId": KEY,
        "WrappingAlgorithm": "RSAES_OAEP_SHA_256",
        "WrappingKeySpec": "RSA_2048",
    },
    "GetPublicKey": {"KeyId": KEY},
    "ImportKeyMaterial": {"KeyId": KEY, "ImportToken": "aGk=", "EncryptedKeyMaterial": "aGk="},
    "ListAliases": {"KeyId": KEY},
    "ListGrants": {"KeyId": KEY},
    "ListKeyPolicies": {"KeyId": KEY},
    "ListKeyRotations": {"KeyId": KEY},
    "ListKeys": {},
    "ListResourceTags": {"KeyId": KEY},
    "ListRetirableGrants": {"RetiringPrincipal": VICTIM_ROOT},
    "PutKeyPolicy": {"KeyId": KEY, "PolicyName": "default", "Policy": OPEN_POLICY},
    "ReEncrypt": {"CiphertextBlob": CIPHERTEXT, "DestinationKeyId": KEY},
    "RetireGrant": {"KeyId": KEY, "GrantId": GRANT},
    "RevokeGrant": {"KeyId": KEY, "GrantId": GRANT},
    "ReplicateKey": {"KeyId": KEY, "ReplicaRegion": "eu-fr-2"},
    "RotateKeyOnDemand": {"KeyId": KEY},
    "ScheduleKeyDeletion": {"KeyId": KEY, "PendingWindowInDays": 7},
    "Sign": {"KeyId": KEY, "Message": "aGk=", "SigningAlgorithm": "ECDSA_SHA_256"},
    "TagResource": {"KeyId": KEY, "Tags": [{"TagKey": "owner", "TagValue": "intruder"}]},
    "UntagResource": {"KeyId": KEY, "TagKeys": ["team"]},
    "UpdateAlias": {"AliasName": ALIAS, "TargetKeyId": KEY},
    "UpdateKeyDescription": {"KeyId": KEY, "Description": "defaced"},
    "UpdatePrimaryRegion": {"KeyId": KEY, "PrimaryRegion": "eu-fr-2"},
    "Verify": {
        "KeyId": KEY,
        "Message": "aGk=",
        "Signature": "aGk=",
        "SigningAlgorithm": "ECDSA_SHA_256",
    },
    "VerifyMac": {
        "KeyId": KEY,
        "Message": "aGk=",
        "Mac": "aGk=",
        "MacAlgorithm": "HMAC_SHA_256",
    },
}


def test_every_action_has_an_isolation_case() -> None:
    assert set(RECIPES) == set(ACTIONS)


@dataclass
class Victim:
    root: Harness
    key_id: str
    arn: str
    ciphertext: str
    grant_id: str
    store_id: str

    def fill(self, recipe: dict[str, Any]) -> dict[str, Any]:
        values = {
            KEY: self.arn,
            CIPHERTEXT: self.ciphertext,
            GRANT: self.grant_id,
            VICTIM_ROOT: f"arn:aws:iam::{self.root.tenant_id}:root",
            STORE: self.store_id,
        }
        return {
            name: values.get(value, value) if isinstance(value, str) else value
            for name, value in recipe.items()
        }

    async def snapshot(self) -> list[Any]:
        """Everything a caller could change about the victim's keys, read by its root."""
        reads = [
            ("DescribeKey", {"KeyId": self.key_id}),
            ("GetKeyPolicy", {"KeyId": self.key_id, "PolicyName": "default"}),
            ("GetKeyRotationStatus", {"KeyId": self.key_id}),
            ("ListResourceTags", {"KeyId": self.key_id}),
            ("ListGrants", {"KeyId": self.key_id}),
            ("ListAliases", {}),
            ("ListKeys", {}),
            ("DescribeCustomKeyStores", {}),
        ]
        state = []
        for action, params in reads:
            reply = await self.root.call(action, params)
            assert reply.status == 200, (action, reply.body)
            state.append(reply.json())
        decrypted = await self.root.call("Decrypt", {"CiphertextBlob": self.ciphertext})
        state.append(base64.b64decode(decrypted.json()["Plaintext"]))
        return state


async def victims(data_dir: Path) -> AsyncIterator[Victim]:
    """The victim's key with its alias, a ciphertext, a grant and a connected key store."""
    async for root in kms_harness(data_dir, MemoryCustomerKeyStore()):
        created = await root.call(
            "CreateKey", {"Description": "victim", "Tags": [{"TagKey": "team", "TagValue": "a"}]}
        )
        metadata = created.json()["KeyMetadata"]
        alias = await root.call(
            "CreateAlias", {"AliasName": ALIAS, "TargetKeyId": metadata["KeyId"]}
        )
        assert alias.status == 200, alias.body
        encrypted = await root.call(
            "Encrypt",
            {"KeyId": metadata["KeyId"], "Plaintext": base64.b64encode(PLAINTEXT).decode()},
        )
        granted = await root.call(
            "CreateGrant",
            {
                "KeyId": metadata["KeyId"],
                "GranteePrincipal": f"arn:aws:iam::{root.tenant_id}:root",
                "RetiringPrincipal": f"arn:aws:iam::{root.tenant_id}:root",
                "Operations": ["Decrypt"],
            },
        )
        assert granted.status == 200, granted.body
        store = await root.call(
            "CreateCustomKeyStore", {"CustomKeyStoreName": "victim-store", **XKS_STORE}
        )
        assert store.status == 200, store.body
        store_id = store.json()["CustomKeyStoreId"]
        connected = await root.call("ConnectCustomKeyStore", {"CustomKeyStoreId": store_id})
        assert connected.status == 200, connected.body
        yield Victim(
            root,
            metadata["KeyId"],
            metadata["Arn"],
            encrypted.json()["CiphertextBlob"],
            granted.json()["GrantId"],
            store_id,
        )


@pytest.fixture
async def victim(tmp_path: Path) -> AsyncIterator[Victim]:
    """A victim of the test's own, for the callers whose requests succeed on their account."""
    async for made in victims(tmp_path):
        yield made


@dataclass
class Refused:
    """One victim shared by the module's refused callers, and the powerless user's client."""

    victim: Victim
    powerless: Harness


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def refused(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Refused]:
    """Built once: its callers are refused before anything is done, so the victim they face is
    only read. Each test still reads the victim's state before and after its own attempt, so a
    refusal that changed something fails that test, not a later one."""
    async for made in victims(tmp_path_factory.mktemp("refused")):
        yield Refused(made, await made.root.iam_user("powerless"))


@pytest.mark.parametrize("action", sorted(RECIPES))
async def test_another_tenants_root_only_reaches_its_own_account(
    victim: Victim, action: str
) -> None:
    intruder = await victim.root.other_tenant("intruder")
    before = await victim.snapshot()
    params = victim.fill(RECIPES[action])
    reply = await intruder.call(action, params)
    assert reply.status == 200 or 400 <= reply.status < 500, (action, reply.status)
    body = reply.body.decode()
    for value in params.values():  # what the intruder sent may come back in a message
        body = body.replace(str(value), "")
    if CIPHERTEXT in RECIPES[action].values():
        body = body.replace(victim.arn, "")  # a ciphertext names its key, as AWS's do
    for secret in (
        victim.key_id,
        victim.arn,
        base64.b64encode(PLAINTEXT).decode(),
        "victim",
        SECRET,
    ):
        assert secret not in body, (action, body)
    assert await victim.snapshot() == before


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize("action", sorted(RECIPES))
async def test_a_user_without_policy_is_denied_every_kms_action(
    refused: Refused, action: str
) -> None:
    victim = refused.victim
    before = await victim.snapshot()
    reply = await refused.powerless.call(action, victim.fill(RECIPES[action]))
    assert (reply.status, reply.error_type) == (400, "AccessDeniedException"), reply.body
    assert await victim.snapshot() == before


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize("action", sorted(RECIPES))
async def test_an_unsigned_caller_is_refused_every_kms_action(
    refused: Refused, action: str
) -> None:
    victim = refused.victim
    before = await victim.snapshot()
    reply = await victim.root.anonymous().call(action, victim.fill(RECIPES[action]))
    assert (reply.status, reply.error_type) == (400, "MissingAuthenticationTokenException")
    assert await victim.snapshot() == before


async def test_the_user_is_refused_for_want_of_a_policy(victim: Victim) -> None:
    """The control of the matrix: the same kind of user decrypts once a policy allows it."""
    powerless = await victim.root.iam_user("reader")
    allow = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "kms:Decrypt", "Resource": victim.arn}],
    }
    await victim.root.identity.put_user_policy(
        victim.root.tenant_id, "reader", "decrypt", json.dumps(allow)
    )
    reply = await powerless.call("Decrypt", {"CiphertextBlob": victim.ciphertext})
    assert base64.b64decode(reply.json()["Plaintext"]) == PLAINTEXT
