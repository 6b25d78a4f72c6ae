"""A function's code zip (decision 0286): what AWS checks of one before it keeps it (a zip
it can read, its unzipped size within the bound, the upload within its own) and the
``CodeSha256`` it answers, the base64 of the zip's SHA-256. No I/O but the bytes given."""

from __future__ import annotations

import base64
import hashlib
import io
import zipfile
from dataclasses import dataclass

from andromede.functions.errors import InvalidParameterValue, RequestTooLarge

__all__ = ["CodeLimits", "checked_zip", "code_sha256"]


@dataclass(frozen=True, slots=True)
class CodeLimits:
    max_zip_bytes: int = 50 * 1024 * 1024
    max_unzipped_bytes: int = 250 * 1024 * 1024


def code_sha256(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def checked_zip(data: bytes, limits: CodeLimits, operation: str) -> bytes:
    """``data`` once it is a zip within the limits; AWS's errors otherwise."""
    if len(data) > limits.max_zip_bytes:
        raise RequestTooLarge(
            f"Request must be smaller than {limits.max_zip_bytes} bytes for the {operation} "
            "operation"
        )
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unzipped = sum(member.file_size for member in archive.infolist())
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise InvalidParameterValue(
            "Could not unzip uploaded file. Please check your file, then try to upload again."
        ) from exc
    if unzipped > limits.max_unzipped_bytes:
        raise InvalidParameterValue(
            f"Unzipped size must be smaller than {limits.max_unzipped_bytes} bytes"
        )
    return data
