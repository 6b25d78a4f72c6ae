"""Decision 0351: a topic's ``TracingConfig`` (X-Ray's mode, ``PassThrough`` or ``Active``)
is kept and shown back; any other value is refused in SNS's words. Either mode passes the
publisher's trace header on to the subscriptions (``tests/e2e/test_s3_notifications.py``)."""

from __future__ import annotations

import pytest

from andromede.notifications.errors import InvalidTopic
from andromede.notifications.model import check_attributes


def test_tracing_config_takes_aws_two_modes() -> None:
    for mode in ("PassThrough", "Active"):
        assert check_attributes({"TracingConfig": mode}) == {"TracingConfig": mode}
    for wrong in ("active", "On", ""):
        with pytest.raises(InvalidTopic, match="TracingConfig must be one of"):
            check_attributes({"TracingConfig": wrong})
