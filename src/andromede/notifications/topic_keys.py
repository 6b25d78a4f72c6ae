"""A topic's server-side encryption (decision 0212): ``KmsMasterKeyId`` names a
customer-managed KMS key of the topic's account (a key id, key ARN, alias name or alias ARN;
``alias/aws/sns`` the account's AWS-managed key for SNS, made on first use), and what SNS
holds of the topic's messages at rest — each delivery waiting in the event queue (retries
included), a FIFO topic's archived messages — is sealed under a data key of that key, inside
the tenant-key sealing every queued event has (decision 0163's addendum).

- **Publish** checks, before anything is queued, that the publisher may
  ``kms:GenerateDataKey`` and ``kms:Decrypt`` under the key (AWS's requirement, judged with the
  key's policy, grants and IAM as KMS judges them) and that the key is usable; a disabled key,
  one pending deletion, a missing one or a refused publisher answers SNS's ``KMSDisabled``,
  ``KMSInvalidState``, ``KMSNotFound``, ``KMSAccessDenied``.
- **Sealing** is then SNS's own use of the key (no caller: the key must be usable). The sealed
  text is ``{"kms": <base64>}``, whose sealed bytes name the key, so a message keeps the key it
  was sealed under whatever the topic says since; a text stored before the topic had a key
  (or under another key since removed) is not of that shape and stays readable as it is.
- **Deliveries** open their message at each attempt: a key disabled since fails the attempt
  with its error (retried on the delivery schedule, then given up, as any failure: logged,
  audited by the key's refusal, never sent in clear).

The context bound into each sealed text is the topic owner's account and the text's
destination (a subscription's ARN, or the topic's for its archive), so a sealed delivery moved
to another subscription does not open. The key service is behind :class:`TopicSealer`
(``wiring/topic_keys.py``).
"""

from __future__ import annotations

import base64
import json
from typing import Final, Protocol

from andromede.notifications.errors import TopicKeyInvalidState
from andromede.notifications.model import Topic

__all__ = [
    "AWS_MANAGED_SNS_KEY",
    "KMS_MASTER_KEY_ID",
    "TopicSealer",
    "kms_key_of",
    "opened_text",
    "sealed_text",
]

KMS_MASTER_KEY_ID: Final = "KmsMasterKeyId"
AWS_MANAGED_SNS_KEY: Final = "alias/aws/sns"
_MARK: Final = "kms"
_PURPOSE: Final = b"andromede:sns-message\x00"


class TopicSealer(Protocol):
    """The topic's KMS key at work; errors are :class:`TopicKeyError`'s."""

    async def authorise(self, topic: Topic, key_ref: str, publisher: object) -> None:
        """That ``publisher`` (the wire layer's caller) may ``kms:GenerateDataKey`` and
        ``kms:Decrypt`` under the key, and that it is usable."""

    async def seal(self, topic: Topic, key_ref: str, plaintext: bytes, context: bytes) -> bytes:
        """Sealed under a data key of the key (SNS's own use)."""

    async def open(self, topic: Topic, sealed: bytes, context: bytes) -> bytes:
        """Opened under the key the sealed bytes name (SNS's own use)."""


def kms_key_of(topic: Topic) -> str | None:
    return topic.attributes.get(KMS_MASTER_KEY_ID) or None


def _context(topic: Topic, destination: str) -> bytes:
    return _PURPOSE + topic.tenant_id.encode() + b"\x00" + destination.encode()


async def sealed_text(sealer: TopicSealer | None, topic: Topic, text: str, destination: str) -> str:
    """``text`` as stored for ``destination``: sealed under the topic's key if it has one."""
    key = kms_key_of(topic)
    if key is None:
        return text
    if sealer is None:
        # Never kept in clear instead: a topic under a KMS key without a KMS refuses.
        raise TopicKeyInvalidState("Topics under a KMS key are not offered by this deployment.")
    sealed = await sealer.seal(topic, key, text.encode(), _context(topic, destination))
    return json.dumps({_MARK: base64.b64encode(sealed).decode()}, separators=(",", ":"))


async def opened_text(
    sealer: TopicSealer | None, topic: Topic, stored: str, destination: str
) -> str:
    """The text of a stored one: a sealed one opened, any other as it is."""
    if not stored.startswith('{"' + _MARK + '":'):
        return stored
    try:
        sealed = base64.b64decode(json.loads(stored)[_MARK], validate=True)
    except (ValueError, KeyError, TypeError) as exc:
        raise TopicKeyInvalidState("The message's sealed form is not readable.") from exc
    if sealer is None:
        raise TopicKeyInvalidState("Topics under a KMS key are not offered by this deployment.")
    return (await sealer.open(topic, sealed, _context(topic, destination))).decode()
