"""The object store as AWS Signer's jobs reach it (decision 0386), as a dict: (bucket, key) →
bytes, every object's one version ``"1"``; what cannot be read is the job's failure reason."""

from __future__ import annotations

from andromede.signer.errors import InvalidSignerInput

__all__ = ["DictObjects"]


class DictObjects:
    def __init__(self) -> None:
        self.kept: dict[tuple[str, str], bytes] = {}

    async def read(
        self, caller: object, tenant_id: str, bucket: str, key: str, version: str, limit: int
    ) -> bytes:
        if (bucket, key) not in self.kept or version != "1":
            raise InvalidSignerInput(f"The object s3://{bucket}/{key} cannot be read")
        if len(self.kept[(bucket, key)]) > limit:
            raise InvalidSignerInput(f"The object to sign is larger than {limit} bytes")
        return self.kept[(bucket, key)]

    async def write(
        self, caller: object, tenant_id: str, bucket: str, key: str, data: bytes
    ) -> None:
        self.kept[(bucket, key)] = data
