"""The Query protocol's errors (IAM and STS): codes, HTTP statuses, and how the domain's map.

AWS answers an IAM or STS error as::

    <ErrorResponse xmlns="…"><Error><Type>Sender</Type><Code>NoSuchEntity</Code>
    <Message>…</Message></Error><RequestId>…</RequestId></ErrorResponse>

with the status below; botocore raises ``ClientError`` with that code, so the codes are AWS's.
"""

from __future__ import annotations

from typing import Final

from andromede.errors import AndromedeError
from andromede.http.sigv4 import SigV4Error
from andromede.iam import errors as iam_errors

__all__ = ["QueryError", "to_query_error"]

# code → (status, default message)
CATALOGUE: Final[dict[str, tuple[int, str]]] = {
    "AccessDenied": (403, "User is not authorized to perform this action."),
    "DeleteConflict": (409, "The entity cannot be deleted while it is in use."),
    "UnmodifiableEntity": (400, "Only the service that owns this entity may modify it."),
    "EntityAlreadyExists": (409, "The entity already exists."),
    "ConcurrentModification": (
        409,
        "The request was rejected because multiple requests to change this object were "
        "submitted simultaneously.",
    ),
    "ExpiredToken": (403, "The security token included in the request is expired"),
    # AssumeRoleWithWebIdentity's (decision 0087): STS's codes, statuses as botocore's model.
    "ExpiredTokenException": (400, "The web identity token that was passed is expired."),
    "IDPCommunicationError": (400, "The identity provider could not be reached."),
    "IDPRejectedClaim": (403, "The identity provider's token carries an unusable claim."),
    "InvalidIdentityToken": (400, "The web identity token that was passed could not be "
                             "validated."),
    "IncompleteSignature": (400, "The request signature does not conform to AWS standards."),
    "InvalidAction": (400, "The action or operation requested is invalid."),
    "InvalidAuthenticationCode": (403, "The authentication code is not valid."),
    "InvalidClientTokenId": (403, "The security token included in the request is invalid."),
    "InvalidInput": (400, "The request has invalid input."),
    "InvalidParameterValue": (400, "An invalid or out-of-range value was supplied."),
    "LimitExceeded": (409, "The request exceeds a limit of the account."),
    "MalformedPolicyDocument": (400, "The policy document is malformed."),
    "MalformedCertificate": (400, "The certificate is malformed or expired."),
    "KeyPairMismatch": (400, "The public key certificate and the private key do not match."),
    "MalformedQueryString": (404, "The query string is malformed or not UTF-8."),
    "MissingAction": (400, "The request is missing an action or a required parameter."),
    "MissingAuthenticationToken": (
        403,
        "Request is missing Authentication Token",
    ),
    "PasswordPolicyViolation": (400, "The provided password does not meet the requirements."),
    "PackedPolicyTooLarge": (400, "The session policies are larger than a session carries."),
    "MissingParameter": (400, "A required parameter for the specified action is not supplied."),
    "NoSuchEntity": (404, "The request was rejected because it referenced an entity that does "
                     "not exist."),
    "RequestEntityTooLarge": (413, "The request body is larger than this endpoint accepts."),
    "RequestExpired": (400, "The request reached the service more than 15 minutes after the "
                       "date stamp on the request."),
    "ServiceFailure": (500, "The request processing has failed because of an unknown error."),
    "SignatureDoesNotMatch": (
        403,
        "The request signature we calculated does not match the signature you provided. Check "
        "your AWS Secret Access Key and signing method. Consult the service documentation for "
        "details.",
    ),
    "Throttling": (400, "Rate exceeded"),
    # SNS's, for bucket notification topics (decision 0132).
    "NotFound": (404, "Topic does not exist"),
    "InvalidParameter": (400, "Invalid parameter"),
    "TopicLimitExceeded": (403, "Exceeded topic limit."),
    # SNS's, for subscriptions and Publish (decision 0163).
    "AuthorizationError": (403, "Authorization error"),
    "SubscriptionLimitExceeded": (403, "Exceeded subscription limit."),
    # A topic's KMS key unusable at Publish (decision 0212).
    "KMSAccessDenied": (
        400,
        "The ciphertext references a key that doesn't exist or that you don't have access to.",
    ),
    "KMSDisabled": (400, "The request was rejected because the specified KMS key isn't enabled."),
    "KMSInvalidState": (400, "The state of the specified KMS key isn't valid for this request."),
    "KMSNotFound": (400, "The specified KMS key can't be found."),
    "EmptyBatchRequest": (400, "The batch request doesn't contain any entries."),
    "TooManyEntriesInBatchRequest": (400, "The batch request contains too many entries."),
    "BatchEntryIdsNotDistinct": (400, "Two or more batch entries in the request have one Id."),
    "ValidationError": (400, "The input fails to satisfy the constraints of the operation."),
    # SNS's, for topics' tags (decision 0175).
    "TagLimitExceeded": (400, "Can't add more than 50 tags to a topic."),
    "ResourceNotFound": (404, "Can't perform the action on the specified resource."),
    # EC2 Auto Scaling's (decision 0156).
    "AlreadyExists": (400, "The named resource already exists."),
    "ResourceInUse": (400, "The operation can't be performed because the resource is in use."),
    # AWS answers it with 500 (a retry is expected to pass) (decision 0188).
    "ResourceContention": (500, "You already have a pending update to an Auto Scaling "
                           "resource."),
    # Instance refresh's (decision 0159).
    "InstanceRefreshInProgress": (400, "An instance refresh is already in progress."),
    "ActiveInstanceRefreshNotFound": (400, "No active instance refresh was found."),
    # The credential report's (decision 0193).
    "ReportNotPresent": (410, "The request was rejected because the credential report does "
                         "not exist. To generate a credential report, use "
                         "GenerateCredentialReport."),
    "ReportExpired": (410, "The request was rejected because the most recent credential "
                      "report has expired. To generate a new credential report, use "
                      "GenerateCredentialReport."),
    # Elastic Load Balancing's (decision 0191), all 400 as botocore's model has them.
    "LoadBalancerNotFound": (400, "The specified load balancer does not exist."),
    "TargetGroupNotFound": (400, "The specified target group does not exist."),
    "ListenerNotFound": (400, "The specified listener does not exist."),
    "SubnetNotFound": (400, "The specified subnet does not exist."),
    "DuplicateLoadBalancerName": (400, "A load balancer with the specified name exists."),
    "DuplicateTargetGroupName": (400, "A target group with the specified name exists."),
    "DuplicateListener": (400, "A listener with the specified port already exists."),
    "DuplicateTagKeys": (400, "A tag key was specified more than once."),
    "TooManyLoadBalancers": (400, "You've reached the limit on the number of load balancers."),
    "TooManyTargetGroups": (400, "You've reached the limit on the number of target groups."),
    "TooManyListeners": (400, "You've reached the limit on the number of listeners."),
    "TooManyTargets": (400, "You've reached the limit on the number of targets."),
    "TooManyTags": (400, "You've reached the limit on the number of tags."),
    "TargetGroupAssociationLimit": (400, "You've reached the limit on the number of load "
                                    "balancers per target group."),
    "InvalidTarget": (400, "The specified target does not exist or is not in the same VPC."),
    "InvalidConfigurationRequest": (400, "The requested configuration is not valid."),
    "InvalidSubnet": (400, "The specified subnet is out of available addresses."),
    "InvalidSecurityGroup": (400, "One or more security groups are invalid."),
    "OperationNotPermitted": (400, "This operation is not allowed."),
    # TLS listeners' (decision 0210).
    "CertificateNotFound": (400, "The specified certificate does not exist."),
    "SSLPolicyNotFound": (400, "The specified SSL policy does not exist."),
    "TooManyCertificates": (400, "You've reached the limit on the number of certificates per "
                            "load balancer."),
    # Application Load Balancers' (decision 0216).
    "RuleNotFound": (400, "The specified rule does not exist."),
    "PriorityInUse": (400, "The specified priority is in use."),
    "TooManyRules": (400, "You've reached the limit on the number of rules per load balancer."),
    "TooManyActions": (400, "You've reached the limit on the number of actions per rule."),
    "InvalidLoadBalancerAction": (400, "The requested action is not valid."),
    "IncompatibleProtocols": (400, "The specified configuration is not valid with this "
                              "protocol."),
    # Trust stores' (decision 0256).
    "TrustStoreNotFound": (400, "The specified trust store does not exist."),
    "DuplicateTrustStoreName": (400, "A trust store with the specified name already exists."),
    "TooManyTrustStores": (400, "You've reached the limit on the number of trust stores."),
    "TrustStoreInUse": (400, "Specified trust store is currently in use."),
    "InvalidCaCertificatesBundle": (400, "The specified ca certificate bundle is in an invalid "
                                    "format, or corrupt."),
    "CaCertificatesBundleNotFound": (400, "The specified ca certificates bundle does not "
                                     "exist."),
    "InvalidRevocationContent": (400, "The provided revocation file is an invalid format, or "
                                 "uses an incorrect algorithm."),
    "RevocationContentNotFound": (400, "The specified revocation file does not exist."),
    "RevocationIdNotFound": (400, "The specified revocation ID does not exist."),
    "TooManyTrustStoreRevocationEntries": (400, "The specified trust store has too many "
                                           "revocation entries."),
}  # fmt: skip


class QueryError(AndromedeError):
    def __init__(self, code: str, message: str | None = None) -> None:
        status, default = CATALOGUE[code]
        self.code = code
        self.status = status
        self.message = message if message is not None else default
        super().__init__(f"{code}: {self.message}")

    @property
    def sender_fault(self) -> bool:
        return self.status < 500


# SigV4's checks speak S3's vocabulary; the Query services name the same failures their way.
_FROM_SIGV4: Final[dict[str, str]] = {
    "AuthorizationHeaderMalformed": "IncompleteSignature",
    "AuthorizationQueryParametersError": "IncompleteSignature",
    "InvalidRequest": "IncompleteSignature",
    "InvalidArgument": "IncompleteSignature",
    "AccessDenied": "IncompleteSignature",
    "RequestTimeTooSkewed": "SignatureDoesNotMatch",
    "SignatureDoesNotMatch": "SignatureDoesNotMatch",
}


# Identity's domain errors carry AWS's IAM codes; the table is in the order of ``iam/errors.py``.
_FROM_IDENTITY: Final[tuple[tuple[type[iam_errors.IamError], str], ...]] = (
    (iam_errors.EntityAlreadyExists, "EntityAlreadyExists"),
    (iam_errors.ConcurrentModification, "ConcurrentModification"),
    (iam_errors.NoSuchEntity, "NoSuchEntity"),
    (iam_errors.DeleteConflict, "DeleteConflict"),
    (iam_errors.UnmodifiableEntity, "UnmodifiableEntity"),
    (iam_errors.LimitExceeded, "LimitExceeded"),
    (iam_errors.InvalidInput, "InvalidInput"),
    (iam_errors.MalformedPolicyDocument, "MalformedPolicyDocument"),
    (iam_errors.MalformedCertificate, "MalformedCertificate"),
    (iam_errors.KeyPairMismatch, "KeyPairMismatch"),
    (iam_errors.PackedPolicyTooLarge, "PackedPolicyTooLarge"),
    (iam_errors.InvalidIdentityToken, "InvalidIdentityToken"),
    (iam_errors.ExpiredIdentityToken, "ExpiredTokenException"),
    (iam_errors.IdpCommunicationError, "IDPCommunicationError"),
    (iam_errors.IdpRejectedClaim, "IDPRejectedClaim"),
    (iam_errors.InvalidAuthenticationCode, "InvalidAuthenticationCode"),
    (iam_errors.PasswordPolicyViolation, "PasswordPolicyViolation"),
    (iam_errors.ReportNotPresent, "ReportNotPresent"),
    (iam_errors.ReportExpired, "ReportExpired"),
)


# STS refuses a wrong or replayed MFA code (GetSessionToken, AssumeRole) as AccessDenied with
# this message, where IAM (EnableMFADevice) says InvalidAuthenticationCode; tools match on it.
_STS_MFA_FAILED: Final = "MultiFactorAuthentication failed with invalid MFA one time pass code."


def to_query_error(exc: AndromedeError, service: str = "iam") -> QueryError | None:
    """The wire error for a domain or authentication error; None for unexpected ones.

    STS names a malformed parameter ``ValidationError`` where IAM says ``InvalidInput``, and a
    refused MFA code ``AccessDenied`` where IAM says ``InvalidAuthenticationCode``."""
    if isinstance(exc, QueryError):
        return exc
    if service == "sts" and isinstance(exc, iam_errors.InvalidAuthenticationCode):
        return QueryError("AccessDenied", _STS_MFA_FAILED)
    for domain, code in _FROM_IDENTITY:
        if isinstance(exc, domain):
            if code == "InvalidInput" and service == "sts":
                code = "ValidationError"
            return QueryError(code, str(exc) or None)
    if isinstance(exc, SigV4Error):
        code = _FROM_SIGV4.get(exc.code, "IncompleteSignature")
        if exc.code == "RequestTimeTooSkewed":
            # botocore recognises clock skew by this wording and corrects its clock.
            return QueryError(code, f"Signature expired: {exc.message}")
        return QueryError(code, exc.message if code != "SignatureDoesNotMatch" else None)
    if isinstance(exc, iam_errors.ExpiredToken):
        return QueryError("ExpiredToken")
    if isinstance(exc, iam_errors.InvalidAccessKeyId):  # InvalidClientTokenId included
        return QueryError("InvalidClientTokenId")
    if isinstance(exc, iam_errors.AccessDenied):
        return QueryError("AccessDenied", str(exc) or None)
    return None
