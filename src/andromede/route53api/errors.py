"""Route 53's wire errors (decision 0280): each domain error's status, and the one XML shape
``<ErrorResponse><Error><Type/><Code/><Message/></Error><RequestId/></ErrorResponse>`` in
Route 53's namespace, which botocore's REST-XML parser reads. Authentication errors are named
as Route 53 names them; anything unmapped is ``InternalFailure`` carrying only the request id."""

from __future__ import annotations

from typing import Final

from andromede.errors import AndromedeError
from andromede.http.response import Response
from andromede.http.sigv4 import SigV4Error
from andromede.http.xml import XmlWriter
from andromede.route53 import errors as r
from andromede.route53.health_errors import HealthCheckChanged

__all__ = ["NAMESPACE", "Route53WireError", "error_response", "to_wire_error"]

NAMESPACE: Final = "https://route53.amazonaws.com/doc/2013-04-01/"

_STATUS: Final[dict[str, int]] = {
    "AccessDenied": 403,
    "ConflictingDomainExists": 400,
    "HealthCheckAlreadyExists": 409,  # health checks: decision 0285
    "HealthCheckInUse": 400,
    "HealthCheckVersionMismatch": 409,
    "HostedZoneAlreadyExists": 409,
    "HostedZoneNotEmpty": 400,
    "IncompleteSignature": 403,
    "InsufficientCloudWatchLogsResourcePolicy": 400,  # query logging: decision 0305
    "InternalFailure": 500,
    "InvalidChangeBatch": 400,
    "InvalidClientTokenId": 403,
    "InvalidDomainName": 400,
    "InvalidInput": 400,
    "InvalidPaginationToken": 400,
    "InvalidVPCId": 400,
    "LastVPCAssociation": 400,
    "MissingAuthenticationToken": 403,
    "NoSuchChange": 404,
    "NoSuchHealthCheck": 404,
    "NoSuchCloudWatchLogsLogGroup": 404,
    "NoSuchHostedZone": 404,
    "NoSuchQueryLoggingConfig": 404,
    "PriorRequestNotComplete": 400,
    "PublicZoneVPCAssociation": 400,
    "QueryLoggingConfigAlreadyExists": 409,
    "SignatureDoesNotMatch": 403,
    "Throttling": 400,
    "TooManyHealthChecks": 400,
    "TooManyHostedZones": 400,
    "UnknownOperation": 404,
    "VPCAssociationNotFound": 404,
    "RequestEntityTooLarge": 413,
    "NoSuchKeySigningKey": 404,
    "KeySigningKeyAlreadyExists": 409,
    "TooManyKeySigningKeys": 400,
    "InvalidKeySigningKeyName": 400,
    "InvalidKeySigningKeyStatus": 400,
    "InvalidKMSArn": 400,
    "KeySigningKeyInUse": 400,
    "KeySigningKeyInParentDSRecord": 400,  # decision 0324
    "KeySigningKeyWithActiveStatusNotFound": 400,
    "InvalidSigningStatus": 400,
    "DNSSECNotFound": 400,  # DNSSEC signing: decision 0317
    "InvalidArgument": 400,
    # Traffic policies (decision 0330).
    "NoSuchTrafficPolicy": 404,
    "NoSuchTrafficPolicyInstance": 404,
    "TrafficPolicyAlreadyExists": 409,
    "TrafficPolicyInUse": 400,
    "TrafficPolicyInstanceAlreadyExists": 409,
    "TooManyTrafficPolicies": 400,
    "TooManyTrafficPolicyVersionsForCurrentPolicy": 400,
    "TooManyTrafficPolicyInstances": 400,
    "InvalidTrafficPolicyDocument": 400,
    "ConflictingTypes": 400,
    "ConcurrentModification": 400,
    "ExpiredToken": 403,
    # Reusable delegation sets and VPC association authorisations (decision 0346).
    "NoSuchDelegationSet": 400,
    "DelegationSetAlreadyCreated": 400,
    "DelegationSetAlreadyReusable": 400,
    "DelegationSetInUse": 400,
    "DelegationSetNotAvailable": 400,
    "DelegationSetNotReusable": 400,
    "HostedZoneNotFound": 400,
    "LimitsExceeded": 400,
    "NotAuthorizedException": 401,
    "VPCAssociationAuthorizationNotFound": 404,
    "TooManyVPCAssociationAuthorizations": 400,
    "RequestExpired": 403,
    # CIDR collections (decision 0353), botocore's statuses.
    "NoSuchCidrCollectionException": 404,
    "NoSuchCidrLocationException": 404,
    "CidrCollectionAlreadyExistsException": 400,
    "CidrCollectionVersionMismatchException": 409,
    "CidrCollectionInUseException": 400,
    "CidrBlockInUseException": 400,
}


class Route53WireError(AndromedeError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.status = _STATUS[code]
        self.message = message


def to_wire_error(exc: Exception) -> Route53WireError | None:
    if isinstance(exc, Route53WireError):
        return exc
    if isinstance(exc, (r.ZoneChanged, HealthCheckChanged)):
        return Route53WireError(
            "PriorRequestNotComplete",
            "The request was rejected because Route 53 was still processing a prior request.",
        )
    if isinstance(exc, r.Route53Error):
        return Route53WireError(type(exc).__name__, str(exc))
    if isinstance(exc, SigV4Error):
        code = exc.code if exc.code in _STATUS else "SignatureDoesNotMatch"
        return Route53WireError(code, exc.message)
    if isinstance(exc, AndromedeError):
        name = type(exc).__name__
        if name in _STATUS:
            return Route53WireError(name, "The security token included in the request is invalid.")
    return None


def error_response(error: Route53WireError, request_id: str) -> Response:
    xml = XmlWriter("ErrorResponse", namespace=NAMESPACE)
    xml.open("Error")
    xml.element("Type", "Receiver" if error.status >= 500 else "Sender")
    xml.element("Code", error.code)
    xml.element("Message", error.message)
    xml.close("Error")
    xml.element("RequestId", request_id)
    return Response(
        status=error.status, headers=[("Content-Type", "text/xml")], body=xml.document()
    )
