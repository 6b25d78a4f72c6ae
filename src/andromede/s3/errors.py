"""S3 wire errors: the catalogue of codes S3 answers with, and the one table mapping domain errors.

Handlers raise :class:`S3Error` directly for protocol-level problems (a bad header, a malformed XML
body), and let domain errors (``storage.errors``, ``iam.errors``) propagate; :func:`to_s3_error`
translates those in one place. Anything else is an internal error: the client sees only
``InternalError`` and the request id, never ``str(exc)``.
"""

from __future__ import annotations

from typing import Final

from andromede.db.errors import DatabaseUnavailable
from andromede.errors import AndromedeError
from andromede.iam import errors as iam_errors
from andromede.storage import errors as storage_errors

__all__ = ["CATALOGUE", "S3Error", "to_s3_error"]

# code -> (HTTP status, default message). Messages are AWS's wording where AWS has one.
CATALOGUE: Final[dict[str, tuple[int, str]]] = {
    "ExpiredToken": (400, "The provided token has expired."),
    "InvalidToken": (400, "The provided token is malformed or otherwise invalid."),
    "MalformedACLError": (
        400,
        "The XML you provided was not well-formed or did not validate against our published "
        "schema.",
    ),
    # SSE-KMS: the KMS key a request names (or an object was stored under) cannot be used.
    "KMS.DisabledException": (400, "The KMS key is disabled."),
    "KMS.KMSInvalidStateException": (400, "The KMS key is not in a valid state for this use."),
    "KMS.NotFoundException": (400, "Invalid arn"),
    "MissingSecurityHeader": (400, "Your request was missing a required header"),
    "UnresolvableGrantByEmailAddress": (
        400,
        "The e-mail address you provided does not match any account on record.",
    ),
    "InvalidBucketAclWithObjectOwnership": (
        400,
        "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting",
    ),
    "MalformedPolicy": (400, "Policies must be valid JSON and the first byte must be '{'"),
    "NoSuchBucketPolicy": (404, "The bucket policy does not exist"),
    "NoSuchTagSet": (404, "The TagSet does not exist"),
    "NoSuchCORSConfiguration": (404, "The CORS configuration does not exist"),
    # Server access logging (decision 0084).
    "InvalidTargetBucketForLogging": (400, "The target bucket for logging is not valid."),
    "CrossLocationLoggingProhibitted": (403, "Cross S3 location logging not allowed."),
    # Configurations no bucket here has (decision 0083).
    "ReplicationConfigurationNotFoundError": (404, "The replication configuration was not found"),
    "ObjectLockConfigurationNotFoundError": (
        404,
        "Object Lock configuration does not exist for this bucket",
    ),
    "NoSuchObjectLockConfiguration": (
        404,
        "The specified object does not have a ObjectLock configuration",
    ),
    "InvalidBucketState": (409, "The request is not valid with the current state of the bucket."),
    "NoSuchLifecycleConfiguration": (404, "The lifecycle configuration does not exist"),
    # S3 Inventory (decision 0154).
    "OperationAborted": (
        409,
        "A conflicting conditional operation is currently in progress against this resource. "
        "Please try again.",
    ),
    "NoSuchConfiguration": (404, "The specified configuration does not exist."),
    "TooManyConfigurations": (
        400,
        "You are attempting to create a new configuration but have already reached the "
        "1,000-configuration limit.",
    ),
    # Static websites (decision 0081).
    "NoSuchWebsiteConfiguration": (
        404,
        "The specified bucket does not have a website configuration",
    ),
    "InvalidRedirectLocation": (
        400,
        "The website redirect location must have a prefix of 'http://' or 'https://' or '/'.",
    ),
    # PostObject (HTML form uploads).
    "InvalidPolicyDocument": (
        400,
        "The content of the form does not meet the conditions specified in the policy document.",
    ),
    "MalformedPOSTRequest": (
        400,
        "The body of your POST request is not well-formed multipart/form-data.",
    ),
    "MaxPostPreDataLengthExceeded": (
        400,
        "Your POST request fields preceding the upload file were too large.",
    ),
    "AccessForbidden": (403, "CORSResponse: This CORS request is not allowed."),
    "InvalidTag": (400, "The tag provided was not a valid tag."),
    "NoSuchPublicAccessBlockConfiguration": (
        404,
        "The public access block configuration was not found",
    ),
    "OwnershipControlsNotFoundError": (404, "The bucket ownership controls were not found"),
    "AccessDenied": (403, "Access Denied"),
    "AccessControlListNotSupported": (400, "The bucket does not allow ACLs"),
    "AuthorizationHeaderMalformed": (400, "The authorization header is malformed."),
    "AuthorizationQueryParametersError": (400, "Error parsing the X-Amz-Credential parameter."),
    "BadRequest": (400, "Bad Request"),
    "BadDigest": (400, "The Content-MD5 you specified did not match what we received."),
    "BucketAlreadyExists": (
        409,
        "The requested bucket name is not available. The bucket namespace is shared by all "
        "users of the system. Please select a different name and try again.",
    ),
    "BucketAlreadyOwnedByYou": (
        409,
        "Your previous request to create the named bucket succeeded and you already own it.",
    ),
    "BucketNotEmpty": (409, "The bucket you tried to delete is not empty"),
    "ConditionalRequestConflict": (
        409,
        "A conflicting operation occurred. If using PutObject you can retry the request. If "
        "using multipart upload you should initiate another CreateMultipartUpload request and "
        "re-upload each part.",
    ),
    "EntityTooLarge": (400, "Your proposed upload exceeds the maximum allowed size"),
    "EntityTooSmall": (400, "Your proposed upload is smaller than the minimum allowed size"),
    "IllegalLocationConstraintException": (
        400,
        "The specified location-constraint is not valid for this endpoint.",
    ),
    "IncompleteBody": (
        400,
        "You did not provide the number of bytes specified by the Content-Length HTTP header.",
    ),
    "InternalError": (500, "We encountered an internal error. Please try again."),
    "InvalidAccessKeyId": (
        403,
        "The AWS Access Key Id you provided does not exist in our records.",
    ),
    "InvalidArgument": (400, "Invalid Argument"),
    "InvalidBucketName": (400, "The specified bucket is not valid."),
    "InvalidDigest": (400, "The Content-MD5 you specified is not valid."),
    "InvalidLocationConstraint": (400, "The specified location constraint is not valid."),
    "InvalidPart": (
        400,
        "One or more of the specified parts could not be found. The part may not have been "
        "uploaded, or the specified entity tag may not match the part's entity tag.",
    ),
    "InvalidPartOrder": (
        400,
        "The list of parts was not in ascending order. Parts must be ordered by part number.",
    ),
    "InvalidPartNumber": (416, "The requested partnumber is not satisfiable"),
    "InvalidRange": (416, "The requested range is not satisfiable"),
    "InvalidRequest": (400, "Invalid Request"),
    # A FIPS access point endpoint where the deployment declares none (decision 0392).
    "EndpointNotFound": (400, "Direct requests to the correct endpoint."),
    "InvalidStorageClass": (400, "The storage class you specified is not valid"),
    "InvalidURI": (400, "Couldn't parse the specified URI."),
    "KeyTooLongError": (400, "Your key is too long"),
    "MalformedXML": (
        400,
        "The XML you provided was not well-formed or did not validate against our published schema",
    ),
    "MetadataTooLarge": (400, "Your metadata headers exceed the maximum allowed metadata size."),
    "MethodNotAllowed": (405, "The specified method is not allowed against this resource."),
    "MissingContentLength": (411, "You must provide the Content-Length HTTP header."),
    "MissingRequestBodyError": (400, "Request Body is empty"),
    "NoSuchBucket": (404, "The specified bucket does not exist"),
    "NoSuchAccessPoint": (404, "The specified accesspoint does not exist"),
    "NoSuchKey": (404, "The specified key does not exist."),
    "NoSuchVersion": (
        404,
        "The specified version does not exist.",
    ),
    "NoSuchUpload": (
        404,
        "The specified upload does not exist. The upload ID may be invalid, or the upload may "
        "have been aborted or completed.",
    ),
    "NotImplemented": (501, "A header you provided implies functionality that is not implemented"),
    "PermanentRedirect": (
        301,
        "The bucket you are attempting to access must be addressed using the specified endpoint. "
        "Please send all future requests to this endpoint.",
    ),
    "PreconditionFailed": (412, "At least one of the pre-conditions you specified did not hold"),
    "RequestTimeTooSkewed": (
        403,
        "The difference between the request time and the current time is too large.",
    ),
    "RequestHeaderSectionTooLarge": (
        400,
        "Your request header section exceeds the maximum allowed size.",
    ),
    "RequestTimeout": (
        400,
        "Your socket connection to the server was not read from or written to within the "
        "timeout period.",
    ),
    "ServiceUnavailable": (503, "Service is unable to handle request."),
    "SignatureDoesNotMatch": (
        403,
        "The request signature we calculated does not match the signature you provided. "
        "Check your key and signing method.",
    ),
    "SlowDown": (503, "Please reduce your request rate."),
    "XAmzContentSHA256Mismatch": (
        400,
        "The provided 'x-amz-content-sha256' header does not match what was computed.",
    ),
}


class S3Error(AndromedeError):
    """An error already in S3's vocabulary: a code of :data:`CATALOGUE`, a safe message, and the
    extra elements AWS adds to some errors (``<Region>``, ``<Key>``, ``<BucketName>``…)."""

    def __init__(self, code: str, message: str | None = None, **details: str) -> None:
        # A code outside the catalogue is still answered (as a client error) rather than turned
        # into a 500: the catalogue lists the messages, not every code AWS has.
        status, default_message = CATALOGUE.get(code, (400, code))
        super().__init__(message or default_message)
        self.code = code
        self.status = status
        self.message = message or default_message
        self.details = details
        # Headers the error response carries (PermanentRedirect's x-amz-bucket-region).
        self.response_headers: tuple[tuple[str, str], ...] = ()


_DOMAIN_TO_CODE: Final[dict[type[AndromedeError], str]] = {
    storage_errors.NoSuchBucket: "NoSuchBucket",
    storage_errors.BucketAlreadyExists: "BucketAlreadyExists",
    storage_errors.BucketAlreadyOwnedByYou: "BucketAlreadyOwnedByYou",
    storage_errors.BucketNotEmpty: "BucketNotEmpty",
    storage_errors.InvalidBucketName: "InvalidBucketName",
    # A copy source in a region this gateway does not serve (its bytes are out of reach here).
    storage_errors.RegionNotServed: "InvalidRequest",
    storage_errors.NoSuchKey: "NoSuchKey",
    storage_errors.NoSuchVersion: "NoSuchVersion",
    storage_errors.DeleteMarkerFound: "MethodNotAllowed",
    storage_errors.KeyTooLong: "KeyTooLongError",
    storage_errors.EntityTooLarge: "EntityTooLarge",
    storage_errors.EntityTooSmall: "EntityTooSmall",
    storage_errors.MetadataTooLarge: "MetadataTooLarge",
    storage_errors.IncompleteBody: "IncompleteBody",
    storage_errors.BadDigest: "BadDigest",
    storage_errors.ChecksumMismatch: "BadDigest",
    storage_errors.InvalidRange: "InvalidRange",
    storage_errors.InvalidChecksumRequest: "InvalidRequest",
    storage_errors.NoSuchUpload: "NoSuchUpload",
    # A destroyed tenant key (crypto-shredding): the bytes exist, nobody can open them.
    storage_errors.EncryptionKeyUnavailable: "AccessDenied",
    storage_errors.CustomerKeyMismatch: "AccessDenied",
    # The HSM or key file cannot be used right now: clients retry a 503.
    storage_errors.KeyServiceUnavailable: "ServiceUnavailable",
    # The KMS key's external key store refused or could not be reached (decision 0094): KMS's
    # error, as S3 passes it on.
    storage_errors.KmsKeyUnusable: "KMS.KMSInvalidStateException",
    storage_errors.KmsKeyDisabled: "KMS.DisabledException",
    storage_errors.CustomerKeyRequired: "InvalidRequest",
    storage_errors.CustomerKeyNotApplicable: "InvalidRequest",
    storage_errors.InvalidPart: "InvalidPart",
    storage_errors.InvalidPartOrder: "InvalidPartOrder",
    storage_errors.InvalidPartNumber: "InvalidArgument",
    storage_errors.TooManyParts: "InvalidArgument",
    storage_errors.ObjectSizeMismatch: "InvalidRequest",
    # A conditional delete raced by a write or delete of the key: the client may retry.
    storage_errors.ObjectChanged: "ConditionalRequestConflict",
    # A retention or legal hold (decision 0102): AWS answers 403 AccessDenied.
    storage_errors.ObjectLocked: "AccessDenied",
    # Object Lock on a bucket not versioned Enabled, or suspending a locked bucket's
    # versioning (decision 0104): 409, AWS's message.
    storage_errors.InvalidBucketState: "InvalidBucketState",
    # A log target and Requester Pays, refused in the store's write (decisions 0133, 0150).
    storage_errors.BucketIsLogTarget: "InvalidRequest",
    storage_errors.InvalidLogTarget: "InvalidTargetBucketForLogging",
    storage_errors.ConfigurationContention: "OperationAborted",
    iam_errors.ExpiredToken: "ExpiredToken",
    iam_errors.InvalidClientTokenId: "InvalidToken",
    iam_errors.InvalidAccessKeyId: "InvalidAccessKeyId",
    iam_errors.AccessDenied: "AccessDenied",
    # The metadata database is out of reach for now: 503 tells clients to retry (their SDKs do).
    DatabaseUnavailable: "ServiceUnavailable",
    storage_errors.BlobStoreUnavailable: "ServiceUnavailable",
}


def to_s3_error(exc: AndromedeError) -> S3Error | None:
    """The wire error for a domain error, or None when it has no S3 meaning (an internal error).

    Domain messages are written for clients (no paths, no secrets), so they are passed on.
    """
    if isinstance(exc, S3Error):
        return exc
    for cls in type(exc).__mro__:
        code = _DOMAIN_TO_CODE.get(cls)
        if code is not None:
            return S3Error(code, str(exc) or None)
    return None
