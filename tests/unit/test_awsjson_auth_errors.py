"""The authentication and authorisation answers every JSON-protocol service shares
(``awsjson.auth_errors``), and that each service's error mapping gives them in its own
error class: botocore reads "Signature expired" to correct its clock, and no service may
answer a 500 for a refused signature."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from andromede.awsjson.auth_errors import auth_error
from andromede.awsjson.endpoint import JsonWireError
from andromede.errors import AndromedeError
from andromede.eventsapi.errors import to_events_error
from andromede.firehoseapi.errors import to_firehose_error
from andromede.http.sigv4 import SigV4Error
from andromede.iam import errors as iam_errors
from andromede.kmsapi.errors import to_kms_error
from andromede.logsapi.errors import to_logs_error
from andromede.secretsapi.errors import to_secrets_error

CASES = [
    (SigV4Error("RequestTimeTooSkewed", "20261206T000000Z"), "InvalidSignatureException",
     "Signature expired: 20261206T000000Z"),
    (SigV4Error("SignatureDoesNotMatch", "no"), "InvalidSignatureException", None),
    (SigV4Error("AuthorizationHeaderMalformed", "bad header"), "IncompleteSignatureException",
     "bad header"),
    (iam_errors.ExpiredToken("old"), "ExpiredTokenException", None),
    (iam_errors.InvalidAccessKeyId("who"), "UnrecognizedClientException", None),
    (iam_errors.AccessDenied("not you"), "AccessDeniedException", "not you"),
]  # fmt: skip


@pytest.mark.parametrize(("exc", "error_type", "message"), CASES)
def test_each_refusal_has_its_answer(exc: AndromedeError, error_type: str, message: str) -> None:
    assert auth_error(exc) == (error_type, message)


def test_other_errors_are_not_its() -> None:
    assert auth_error(AndromedeError("something else")) is None


@pytest.mark.parametrize(
    "mapping", [to_kms_error, to_secrets_error, to_logs_error, to_events_error, to_firehose_error]
)
def test_every_json_service_answers_them(
    mapping: Callable[[AndromedeError], JsonWireError | None],
) -> None:
    for exc, error_type, message in CASES:
        answered = mapping(exc)
        assert answered is not None and answered.error_type == error_type
        if message is not None:
            assert answered.message == message
