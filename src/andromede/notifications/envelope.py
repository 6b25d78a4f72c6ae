"""SNS's message envelopes (decision 0163): the JSON a subscriber receives, signed as SNS
signs it (``SignatureVersion`` 2: SHA256withRSA over the documented string to sign) with the
platform's SNS signing key, whose certificate is served at ``SigningCertURL``.

The key: RSA 2048 and a self-signed certificate, made once for the region and kept in the
metadata database sealed under ``keys/secrets.key`` (``wiring/sns_keys.py``), so every gateway
signs with the same key and serves the same certificate.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final
from urllib.parse import quote

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

__all__ = [
    "SigningKey",
    "cert_path",
    "confirmation",
    "new_signing_key",
    "notification",
    "string_to_sign",
    "verify",
]

# The fields signed, in SNS's order, for each message type (absent ones skipped).
_NOTIFICATION_FIELDS: Final = ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")
_CONFIRMATION_FIELDS: Final = (
    "Message",
    "MessageId",
    "SubscribeURL",
    "Timestamp",
    "Token",
    "TopicArn",
    "Type",
)
_CERT_PREFIX: Final = "/SimpleNotificationService-"


@dataclass(frozen=True, slots=True)
class SigningKey:
    key_id: str  # the certificate's SHA-256, hex, first 32 digits
    private_key: rsa.RSAPrivateKey
    certificate_pem: str

    def sign(self, data: bytes) -> str:
        signature = self.private_key.sign(data, padding.PKCS1v15(), hashes.SHA256())
        return base64.b64encode(signature).decode()


def new_signing_key(region: str, now: datetime) -> tuple[SigningKey, bytes]:
    """A fresh key and its PKCS#8 PEM (to be sealed and kept)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"sns.{region}.andromede")])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=3650))
        .sign(key, hashes.SHA256())
    )
    pem = certificate.public_bytes(serialization.Encoding.PEM).decode()
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return SigningKey(key_id_of(pem), key, pem), private


def key_id_of(certificate_pem: str) -> str:
    return hashlib.sha256(certificate_pem.encode()).hexdigest()[:32]


def load_signing_key(private_pem: bytes, certificate_pem: str) -> SigningKey:
    key = serialization.load_pem_private_key(private_pem, password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("the SNS signing key is not RSA")
    return SigningKey(key_id_of(certificate_pem), key, certificate_pem)


def cert_path(key_id: str) -> str:
    """The path the certificate is served at on the shared endpoint (as SNS's)."""
    return f"{_CERT_PREFIX}{key_id}.pem"


def key_id_of_path(path: str) -> str | None:
    if not path.startswith(_CERT_PREFIX) or not path.endswith(".pem"):
        return None
    key_id = path[len(_CERT_PREFIX) : -len(".pem")]
    return key_id if key_id.isalnum() and len(key_id) <= 64 else None


def string_to_sign(envelope: Mapping[str, object]) -> bytes:
    """SNS's: ``name\\nvalue\\n`` for each signed field present, in order."""
    fields = (
        _NOTIFICATION_FIELDS if envelope.get("Type") == "Notification" else _CONFIRMATION_FIELDS
    )
    return "".join(
        f"{name}\n{envelope[name]}\n" for name in fields if envelope.get(name) is not None
    ).encode()


def _timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + (
        f"{moment.microsecond // 1000:03d}Z"
    )


def _signed(envelope: dict[str, object], key: SigningKey, base_url: str) -> dict[str, object]:
    envelope["SignatureVersion"] = "2"
    envelope["Signature"] = key.sign(string_to_sign(envelope))
    envelope["SigningCertURL"] = base_url + cert_path(key.key_id)
    return envelope


def notification(
    *,
    message_id: str,
    topic_arn: str,
    subscription_arn: str,
    subject: str | None,
    message: str,
    timestamp: datetime,
    attributes: Mapping[str, tuple[str, str]],
    key: SigningKey,
    base_url: str,
    sequence_number: str | None = None,
    replayed: bool = False,
) -> dict[str, object]:
    """A ``Notification`` envelope; ``attributes``: name → (DataType, value);
    ``sequence_number``: a FIFO topic's message's (decision 0171), shown as SNS shows it, not
    among the signed fields (SNS's string to sign has none of it); ``replayed``: a message
    replayed from its topic's archive (decision 0175), marked ``"Replayed": true``, unsigned
    too (its MessageId and Timestamp are the first delivery's, so is its signature)."""
    envelope: dict[str, object] = {
        "Type": "Notification",
        "MessageId": message_id,
    }
    if sequence_number is not None:
        envelope["SequenceNumber"] = sequence_number
    envelope["TopicArn"] = topic_arn
    if subject is not None:
        envelope["Subject"] = subject
    envelope["Message"] = message
    envelope["Timestamp"] = _timestamp(timestamp)
    _signed(envelope, key, base_url)
    if replayed:
        envelope["Replayed"] = True
    envelope["UnsubscribeURL"] = (
        f"{base_url}/?Action=Unsubscribe&SubscriptionArn={quote(subscription_arn, safe='')}"
    )
    if attributes:
        envelope["MessageAttributes"] = {
            name: {"Type": kind, "Value": value} for name, (kind, value) in attributes.items()
        }
    return envelope


def confirmation(
    *,
    message_id: str,
    topic_arn: str,
    token: str,
    timestamp: datetime,
    key: SigningKey,
    base_url: str,
) -> dict[str, object]:
    """The ``SubscriptionConfirmation`` an http/https endpoint receives on Subscribe."""
    subscribe_url = (
        f"{base_url}/?Action=ConfirmSubscription&TopicArn={quote(topic_arn, safe='')}&Token={token}"
    )
    envelope: dict[str, object] = {
        "Type": "SubscriptionConfirmation",
        "MessageId": message_id,
        "Token": token,
        "TopicArn": topic_arn,
        "Message": (
            f"You have chosen to subscribe to the topic {topic_arn}.\n"
            "To confirm the subscription, visit the SubscribeURL included in this message."
        ),
        "SubscribeURL": subscribe_url,
        "Timestamp": _timestamp(timestamp),
    }
    return _signed(envelope, key, base_url)


def verify(envelope: Mapping[str, object], certificate_pem: str) -> bool:
    """Whether the envelope's signature holds under the certificate (a subscriber's check)."""
    certificate = x509.load_pem_x509_certificate(certificate_pem.encode())
    public = certificate.public_key()
    if not isinstance(public, rsa.RSAPublicKey) or envelope.get("SignatureVersion") != "2":
        return False
    try:
        public.verify(
            base64.b64decode(str(envelope["Signature"])),
            string_to_sign(envelope),
            padding.PKCS1v15(),
            hashes.SHA256(),
        )
    except (InvalidSignature, KeyError, ValueError):
        return False
    return True
