"""Load balancing's domain errors, in the order ELBv2 names them; the wire (``elbapi``) maps
each to AWS's code. No HTTP here.

    LoadBalancingError
    ├── LbValidationError            ValidationError
    ├── InvalidConfiguration         InvalidConfigurationRequest
    ├── InvalidAction                InvalidLoadBalancerAction (decision 0216)
    ├── IncompatibleProtocols        IncompatibleProtocols (decision 0216)
    ├── NotFound                     LoadBalancerNotFound, TargetGroupNotFound, ListenerNotFound,
    │                                SubnetNotFound, RuleNotFound (by ``code``)
    ├── Duplicate                    DuplicateLoadBalancerName, DuplicateTargetGroupName,
    │                                DuplicateListener, DuplicateTagKeys, PriorityInUse
    │                                (by ``code``)
    ├── TooMany                      TooManyLoadBalancers, TooManyTargetGroups, TooManyListeners,
    │                                TooManyTargets, TooManyTags, TooManyRules, TooManyActions,
    │                                TargetGroupAssociationLimit (by ``code``)
    ├── InvalidTarget                InvalidTarget
    ├── InvalidSubnet                InvalidSubnet
    ├── ResourceInUse                ResourceInUse
    ├── NotPermitted                 OperationNotPermitted
    ├── Refused                      decision 0256: InvalidCaCertificatesBundle,
    │                                CaCertificatesBundleNotFound, InvalidRevocationContent,
    │                                RevocationContentNotFound, TrustStoreInUse,
    │                                TooManyTrustStoreRevocationEntries (by ``code``)
    └── ConcurrentChange             (retried by the service; never reaches the wire)
"""

from __future__ import annotations

from andromede.errors import AndromedeError

__all__ = [
    "ConcurrentChange",
    "Duplicate",
    "IncompatibleProtocols",
    "InvalidAction",
    "InvalidConfiguration",
    "InvalidSubnet",
    "InvalidTarget",
    "LbValidationError",
    "LoadBalancingError",
    "NotFound",
    "NotPermitted",
    "Refused",
    "ResourceInUse",
    "TooMany",
]


class LoadBalancingError(AndromedeError):
    """Any refusal of a load balancing call."""


class LbValidationError(LoadBalancingError):
    """A parameter outside its constraints."""


class InvalidConfiguration(LoadBalancingError):
    """A combination ELBv2 refuses (or one not served here yet)."""


class InvalidAction(LoadBalancingError):
    """An action ELBv2 refuses as such (a redirect to itself; decision 0216)."""


class IncompatibleProtocols(LoadBalancingError):
    """A target group whose protocol its listener cannot forward to (decision 0216)."""


class _Coded(LoadBalancingError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class NotFound(_Coded):
    """A resource named that the account does not hold."""


class Duplicate(_Coded):
    """A name (or listener port, or tag key) already taken."""


class TooMany(_Coded):
    """A limit of the account or of a resource reached."""


class InvalidTarget(LoadBalancingError):
    """A target that cannot be registered in the group."""


class InvalidSubnet(LoadBalancingError):
    """A subnet that cannot hold the load balancer's node."""


class InvalidSecurityGroup(LoadBalancingError):
    """A security group that is not the account's or not in the load balancer's VPC."""


class ResourceInUse(LoadBalancingError):
    """A resource another one still uses."""


class ConcurrentChange(LoadBalancingError):
    """A conditional write lost to another writer."""


class NotPermitted(LoadBalancingError):
    """An operation a setting of the resource forbids (deletion protection)."""


class Refused(_Coded):
    """A trust store's refusals (decision 0256), each by AWS's code."""
