"""SNS message envelopes (decision 0163): the fields AWS documents, a SignatureVersion 2
signature that verifies with the certificate served for the key and with no other, and
fails once any signed field changes; the SubscriptionConfirmation's SubscribeURL."""

from __future__ import annotations

from datetime import UTC, datetime

from andromede.notifications.envelope import (
    cert_path,
    confirmation,
    key_id_of_path,
    new_signing_key,
    notification,
    string_to_sign,
    verify,
)

NOW = datetime(2026, 12, 5, 9, 30, 1, 123456, tzinfo=UTC)
TOPIC = "arn:aws:sns:eu-fr-1:t1:orders"
BASE = "https://sns.example:9000"


def test_a_notification_is_signed_as_sns_signs() -> None:
    key, _ = new_signing_key("eu-fr-1", NOW)
    other, _ = new_signing_key("eu-fr-1", NOW)
    envelope = notification(
        message_id="m-1",
        topic_arn=TOPIC,
        subscription_arn=f"{TOPIC}:abc",
        subject="Hi",
        message="hello",
        timestamp=NOW,
        attributes={"store": ("String", "example_corp")},
        key=key,
        base_url=BASE,
    )
    assert envelope["Type"] == "Notification"
    assert envelope["Timestamp"] == "2026-12-05T09:30:01.123Z"
    assert envelope["SignatureVersion"] == "2"
    assert envelope["SigningCertURL"] == BASE + cert_path(key.key_id)
    assert key_id_of_path(cert_path(key.key_id)) == key.key_id
    assert str(envelope["UnsubscribeURL"]).startswith(f"{BASE}/?Action=Unsubscribe&")
    assert envelope["MessageAttributes"] == {"store": {"Type": "String", "Value": "example_corp"}}
    assert (
        string_to_sign(envelope)
        == (
            f"Message\nhello\nMessageId\nm-1\nSubject\nHi\nTimestamp\n2026-12-05T09:30:01.123Z\n"
            f"TopicArn\n{TOPIC}\nType\nNotification\n"
        ).encode()
    )
    assert verify(envelope, key.certificate_pem)
    assert not verify(envelope, other.certificate_pem)
    assert not verify({**envelope, "Message": "hellO"}, key.certificate_pem)
    assert not verify({**envelope, "SignatureVersion": "1"}, key.certificate_pem)


def test_a_confirmation_carries_its_token_and_subscribe_url() -> None:
    key, _ = new_signing_key("eu-fr-1", NOW)
    envelope = confirmation(
        message_id="m-2", topic_arn=TOPIC, token="t0k", timestamp=NOW, key=key, base_url=BASE
    )
    assert envelope["Type"] == "SubscriptionConfirmation"
    assert envelope["SubscribeURL"] == (
        f"{BASE}/?Action=ConfirmSubscription&TopicArn=arn%3Aaws%3Asns%3Aeu-fr-1%3At1%3Aorders"
        "&Token=t0k"
    )
    assert b"Token\nt0k\n" in string_to_sign(envelope)
    assert verify(envelope, key.certificate_pem)
    assert not verify({**envelope, "Token": "other"}, key.certificate_pem)
