"""A topic's DisplayName and a pending email subscription's confirmation mailed again
(decision 0180's addendum), through the SNS API with botocore's model over the real
services and worker, mailing into a real SMTP server on the loopback: SNS's rules for the
name, the name as From's display name (quoted, never a header of its own), and Subscribe
again while pending mailing the confirmation again at most once an interval."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from email.policy import SMTP
from pathlib import Path

import pytest

from andromede.notifications.mails import MailRefused, build_mail
from andromede.notifications.smtp import SmtpMailer, SmtpRelay
from andromede.settings import Settings
from support.smtp_sink import SmtpSink, smtp_sink
from support.snsworld import Sns, refused, sns_world, topic

_ADDRESS = "ops@example.test"


@pytest.fixture(scope="module")
def sink() -> Iterator[SmtpSink]:
    with smtp_sink() as started:
        yield started


class _Now:
    """The notification services' clock, moved by the test."""

    def __init__(self) -> None:
        self.at = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.at

    def advance(self, seconds: float) -> None:
        self.at += timedelta(seconds=seconds)


@pytest.fixture
def now() -> _Now:
    return _Now()


@pytest.fixture
async def sns(tmp_path: Path, sink: SmtpSink, now: _Now) -> AsyncIterator[Sns]:
    sink.mails.clear()
    sink.rcpt_reply = None
    relay = SmtpRelay(
        host="127.0.0.1",
        port=sink.port,
        tls="none",
        sender="no-reply@sns.test",
        base_url="https://sns.test:9000",
        timeout=5.0,
    )
    async with sns_world(tmp_path, now=now, mailer=SmtpMailer(relay)) as made:
        yield made


async def _subscribe(sns: Sns, arn: str) -> str:
    answer = await sns.root.call(
        "sns", "Subscribe", TopicArn=arn, Protocol="email", Endpoint=_ADDRESS
    )
    return str(answer["SubscriptionArn"])


async def test_display_name_follows_sns_rules(sns: Sns) -> None:
    made = await sns.root.call(
        "sns", "CreateTopic", Name="named", Attributes={"DisplayName": "On-call_team 2"}
    )
    arn = str(made["TopicArn"])
    shown = await sns.root.call("sns", "GetTopicAttributes", TopicArn=arn)
    assert shown["Attributes"]["DisplayName"] == "On-call_team 2"
    await sns.root.call(
        "sns", "SetTopicAttributes", TopicArn=arn, AttributeName="DisplayName",
        AttributeValue="x" * 100,
    )  # fmt: skip
    shown = await sns.root.call("sns", "GetTopicAttributes", TopicArn=arn)
    assert shown["Attributes"]["DisplayName"] == "x" * 100
    for bad in ("x" * 101, "Ops\r\nBcc: victim@example.test", "tab\there", "Élan"):
        await refused(
            sns.root, "SetTopicAttributes", "InvalidParameter", TopicArn=arn,
            AttributeName="DisplayName", AttributeValue=bad,
        )  # fmt: skip
    await refused(
        sns.root, "CreateTopic", "InvalidParameter", Name="other",
        Attributes={"DisplayName": "line\nbreak"},
    )  # fmt: skip
    await sns.root.call(
        "sns", "SetTopicAttributes", TopicArn=arn, AttributeName="DisplayName",
        AttributeValue="",
    )  # fmt: skip
    shown = await sns.root.call("sns", "GetTopicAttributes", TopicArn=arn)
    assert "DisplayName" not in shown["Attributes"]


async def test_display_name_is_froms_name_quoted(sns: Sns, sink: SmtpSink) -> None:
    # Printable ASCII, yet made of what a header could be forged with if pasted raw.
    name = 'Ops "alerts" <evil@x.test>, Bcc: victim@x.test'
    made = await sns.root.call(
        "sns", "CreateTopic", Name="quoted", Attributes={"DisplayName": name}
    )
    await _subscribe(sns, str(made["TopicArn"]))
    await sns.deliverer.deliver_once()
    mail = sink.wait_for(1)[0]
    (sender,) = mail.message["From"].addresses
    assert (sender.display_name, sender.addr_spec) == (name, "no-reply@sns.test")
    assert mail.message["Bcc"] is None
    assert mail.message.get_all("To") == [_ADDRESS]


def test_a_mail_without_display_name_is_from_the_bare_sender() -> None:
    built = build_mail(
        protocol="email", kind="Notification", body='{"Message": "hi"}', recipient=_ADDRESS,
        sender="no-reply@sns.test", subscription_arn="arn:aws:sns:r:1:t:s",
        base_url="https://sns.test", now=datetime.now(UTC), display_name=None,
    )  # fmt: skip
    assert built["From"] == "no-reply@sns.test"
    named = build_mail(
        protocol="email", kind="Notification", body='{"Message": "hi"}', recipient=_ADDRESS,
        sender="no-reply@sns.test", subscription_arn="arn:aws:sns:r:1:t:s",
        base_url="https://sns.test", now=datetime.now(UTC), display_name="Alarms",
    )  # fmt: skip
    assert named.as_bytes(policy=SMTP).startswith(b"From: Alarms <no-reply@sns.test>\r\n")
    with pytest.raises(MailRefused):  # a name kept before the rules: refused, not pasted
        build_mail(
            protocol="email", kind="Notification", body="{}", recipient=_ADDRESS,
            sender="no-reply@sns.test", subscription_arn="arn:aws:sns:r:1:t:s",
            base_url="https://sns.test", now=datetime.now(UTC), display_name="a\r\nBcc: b",
        )  # fmt: skip


async def test_subscribe_again_while_pending_mails_again_once_an_interval(
    sns: Sns, sink: SmtpSink, now: _Now
) -> None:
    arn = await topic(sns.root, "resent")
    assert await _subscribe(sns, arn) == "pending confirmation"
    await sns.deliverer.deliver_once()
    sink.wait_for(1)
    # Within the interval of the first mail: the same answer, no second mail.
    assert await _subscribe(sns, arn) == "pending confirmation"
    now.advance(59)
    assert await _subscribe(sns, arn) == "pending confirmation"
    await sns.deliverer.deliver_once()
    assert len(sink.mails) == 1
    # Past it: mailed again, once, with the same token.
    now.advance(2)
    assert await _subscribe(sns, arn) == "pending confirmation"
    assert await _subscribe(sns, arn) == "pending confirmation"
    await sns.deliverer.deliver_once()
    mails = sink.wait_for(2)
    assert len(sink.mails) == 2
    tokens = [m.text.split("Token=", 1)[1].split()[0] for m in mails]
    assert tokens[0] == tokens[1]
    now.advance(61)
    await _subscribe(sns, arn)
    await sns.deliverer.deliver_once()
    sink.wait_for(3)
    # Once confirmed, Subscribe again answers the subscription and mails nothing.
    await sns.pubsub.confirm(arn, tokens[0])
    now.advance(61)
    assert (await _subscribe(sns, arn)).startswith(arn + ":")
    await sns.deliverer.deliver_once()
    assert len(sink.mails) == 3


def test_resend_interval_is_a_setting(tmp_path: Path) -> None:
    assert Settings(data_dir=tmp_path).sns_email_confirmation_resend_interval == 60.0
    chosen = Settings(data_dir=tmp_path, sns_email_confirmation_resend_interval=5)
    assert chosen.sns_email_confirmation_resend_interval == 5
    for bad in (0, -1, 86_401):
        with pytest.raises(ValueError, match="sns_email_confirmation_resend_interval"):
            Settings(data_dir=tmp_path, sns_email_confirmation_resend_interval=bad)
