"""Domain errors of identity. No HTTP here.

AndromedeError
└── IamError
    ├── InvalidAccessKeyId     no such key, or the key is inactive
    ├── AccessDenied           authenticated, but not allowed
    └── TenantAlreadyExists    the tenant's id or name is taken
"""

from __future__ import annotations

from andromede.errors import AndromedeError


class IamError(AndromedeError):
    """Base of identity domain errors."""


class InvalidAccessKeyId(IamError):
    pass


class AccessDenied(IamError):
    pass


class TenantAlreadyExists(IamError):
    pass
