"""The root of every exception Andromède raises on purpose.

Each bounded context derives its own domain errors from :class:`AndromedeError` in its
``errors.py``; the wire adapters (S3, later IAM/EC2/KMS and the management API) map those to
their protocol's error shapes in one table each. The tree::

    AndromedeError
    ├── ConfigurationError            settings that cannot work together
    ├── storage.errors.StorageError   buckets, objects, uploads, blobs
    ├── iam.errors.IamError           tenants, users, access keys
    └── s3.errors.S3Error             a wire error already in S3's vocabulary
"""

from __future__ import annotations

__all__ = ["AndromedeError", "ConfigurationError"]


class AndromedeError(Exception):
    """Base class of all the errors Andromède raises deliberately."""


class ConfigurationError(AndromedeError):
    """The settings cannot work together (for instance a TLS certificate without its key)."""
