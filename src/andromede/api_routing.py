"""Which AWS-style API a request on the shared S3 port is for (DESIGN.md "One endpoint for the
AWS-style APIs"): the SigV4 credential scope's service, else what an unsigned request's
shape says. The gateway's front and a VPC endpoint's gate make the same choice through
:func:`api_service` (decision 0174)."""

from __future__ import annotations

from andromede.cloudwatchapi.app import CloudWatchApp
from andromede.cloudwatchapi.protocol import is_cloudwatch_call
from andromede.http.response import Scope
from andromede.http.sigv4 import credential_service
from andromede.iamapi.sns_certificate import SnsCertificateApp, is_certificate_request
from andromede.lambdaapi.code_location import is_code_download
from andromede.lambdaapi.url_host import FUNCTION_URLS, is_function_url_host
from andromede.logsapi.app import LogsApp, is_logs_call
from andromede.s3control.app import S3ControlApp, is_s3_control
from andromede.sqsapi.app import SqsApp
from andromede.sqsapi.query import is_unsigned_query_call


def api_service(scope: Scope) -> str:
    """The API an HTTP request on the shared port is for: the credential scope's service
    picks it (as Ceph RGW does); unsigned requests, and services not served here, are S3's —
    except an unsigned call naming a KMS, SQS, Secrets Manager, Firehose, Kinesis, DynamoDB, ACM,
    Systems Manager, EventBridge, CloudWatch or Logs action, which that API refuses in its own
    words, and the unsigned calls SNS and STS take. A VPC endpoint's gate makes the same choice
    (decision 0174). A function URL's host is Lambda's URLs' whether signed or not
    (decision 0312)."""
    if is_function_url_host(scope["headers"]):
        return FUNCTION_URLS
    service = credential_service(scope.get("query_string", b""), scope["headers"])
    if service is None and _kms_target(scope["headers"]):
        service = "kms"
    elif service is None and _sqs_target(scope["headers"]):
        service = SqsApp.name
    elif service is None and _has_target(scope["headers"], b"secretsmanager."):
        service = "secretsmanager"  # refused in its own words (decision 0190)
    elif service is None and _has_target(scope["headers"], b"Firehose_20150804."):
        service = "firehose"  # refused in Firehose's words (decision 0223)
    elif service is None and _has_target(scope["headers"], b"Kinesis_20131202."):
        service = "kinesis"  # refused in Kinesis' words (decision 0228)
    elif service is None and (
        _has_target(scope["headers"], b"DynamoDB_20120810.")
        or _has_target(scope["headers"], b"DynamoDBStreams_20120810.")  # decision 0246
    ):
        service = "dynamodb"  # refused in DynamoDB's words (decision 0237)
    elif service is None and _has_target(scope["headers"], b"CertificateManager."):
        service = "acm"  # refused in ACM's words (decision 0230)
    elif service is None and _has_target(scope["headers"], b"AmazonSSM."):
        service = "ssm"  # refused in Systems Manager's words (decision 0241)
    elif service is None and _has_target(scope["headers"], b"AWSEvents."):
        service = "events"  # refused in EventBridge's words (decision 0192)
    elif service is None and is_cloudwatch_call(scope["path"], scope["headers"]):
        service = CloudWatchApp.name
    elif service is None and is_logs_call(scope["headers"]):
        service = LogsApp.name  # refused in Logs' JSON words (decision 0186)
    elif service is None and is_unsigned_query_call(scope):
        service = SqsApp.name  # refused in SQS's Query words (decision 0173)
    elif service is None and is_certificate_request(scope):
        service = SnsCertificateApp.name
    elif service is None and is_code_download(scope):
        service = "lambda"  # GetFunction's Code.Location (decision 0286)
    elif service is None and _unsigned_sns(scope):
        service = "sns"  # SubscribeURL / UnsubscribeURL (decision 0163)
    elif service is None and _unsigned_sts(scope):
        service = "sts"
    if service in (None, "s3") and is_s3_control(scope):
        # S3 Control signs as S3; its path and account header tell it apart (0152).
        service = S3ControlApp.name
    return service or "s3"


def _unsigned_sts(scope: Scope) -> bool:
    """Whether an unsigned request is a Query call on the service root, which STS takes: the
    STS actions that need no signature, AssumeRoleWithWebIdentity and AssumeRoleWithSAML, are
    sent that way (boto3, the aws CLI, Kubernetes' IRSA, saml2aws); STS refuses any other
    unsigned action. S3 has no operation
    there: a form-encoded POST on ``/`` is no PostObject (multipart), and an unsigned GET naming
    the action is no ListBuckets a client would send (decision 0087)."""
    if scope.get("path") != "/":
        return False
    if scope["method"] == "GET":
        query = scope.get("query_string", b"")
        return b"Action=AssumeRoleWithWebIdentity" in query or b"Action=AssumeRoleWithSAML" in query
    if scope["method"] != "POST":
        return False
    return any(
        name.lower() == b"content-type"
        and value.split(b";", 1)[0].strip().lower() == b"application/x-www-form-urlencoded"
        for name, value in scope["headers"]
    )


def _unsigned_sns(scope: Scope) -> bool:
    """An unsigned GET of SNS's SubscribeURL or UnsubscribeURL (decision 0163)."""
    if scope.get("path") != "/" or scope["method"] != "GET":
        return False
    query: bytes = scope.get("query_string", b"")
    return query.startswith((b"Action=ConfirmSubscription&", b"Action=Unsubscribe&"))


def _kms_target(raw_headers: list[tuple[bytes, bytes]]) -> bool:
    return any(
        name.lower() == b"x-amz-target" and value.startswith(b"TrentService.")
        for name, value in raw_headers
    )


def _sqs_target(raw_headers: list[tuple[bytes, bytes]]) -> bool:
    return any(
        name.lower() == b"x-amz-target" and value.startswith(b"AmazonSQS.")
        for name, value in raw_headers
    )


def _has_target(raw_headers: list[tuple[bytes, bytes]], prefix: bytes) -> bool:
    return any(
        name.lower() == b"x-amz-target" and value.startswith(prefix) for name, value in raw_headers
    )
