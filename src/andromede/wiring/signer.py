"""AWS Signer and Lambda's code signing wired (decision 0386): the signing profiles and jobs
over the metadata database, each profile's private key sealed under its account's key ring
(the queues' sealer), the jobs reading and writing objects as their caller; Signer's app put
into ``apis`` under ``signer``, the SigV4 service its calls are signed for; Lambda's code
signing configurations over the metadata database, their operations added to Lambda's
actions (DeleteFunction forgetting a function's configuration), and the functions service
given the check of each code package deployed, the signatures read by the signer."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping

from andromede.audit.service import AuditService
from andromede.db.database import Database
from andromede.functions.code_signing import CodeSignature, CodeSigning, SignatureReader
from andromede.functions.code_signing_sql import SqlCodeSigningStore
from andromede.functions.errors import InvalidCodeSignature
from andromede.functions.service import FunctionsService
from andromede.http.ratelimit import RateLimiter
from andromede.http.response import Receive, Scope, Send
from andromede.iam.service import IdentityService
from andromede.kms.service import KeyService
from andromede.lambdaapi.access_actions import ACCESS_ACTIONS
from andromede.lambdaapi.actions import FUNCTION_ACTIONS, Handler
from andromede.lambdaapi.code_signing_actions import code_signing_actions
from andromede.s3.authorise import S3Authoriser
from andromede.settings import Settings
from andromede.signer.errors import SignatureInvalid
from andromede.signer.service import SignerLimits, SignerService
from andromede.signer.store_sql import SqlSignerStore
from andromede.signer_objects import SignerObjects
from andromede.signerapi.app import SignerApp
from andromede.storage.service import ObjectService
from andromede.wiring.queues import KeySealer

__all__ = ["code_signing", "signature_reader"]

ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def signature_reader(signer: SignerService) -> SignatureReader:
    """What Lambda asks of a code package, answered by the signer: an integrity failure in
    Lambda's words (InvalidCodeSignatureException)."""

    async def read(data: bytes) -> CodeSignature | None:
        try:
            found = await signer.verify(data)
        except SignatureInvalid as exc:
            raise InvalidCodeSignature(f"Lambda cannot deploy the function: {exc}") from None
        if found is None:
            return None
        return CodeSignature(
            found.profile_version_arn,
            found.job_arn,
            found.signed_at,
            found.expires_at,
            found.revoked,
        )

    return read


def code_signing(
    apis: MutableMapping[str, ASGIApp],
    actions: dict[str, Handler],
    settings: Settings,
    db: Database,
    keys: KeyService,
    service: FunctionsService,
    objects: ObjectService | None,
    identity: IdentityService,
    audit: AuditService,
    rate_limiter: RateLimiter | None,
) -> Callable[[str], Awaitable[int]]:
    """Signer's app into ``apis``, the code signing operations into ``actions`` (over the
    handlers already there), the check into ``service``; what closing a tenant deletes."""
    signer_store = SqlSignerStore(db)
    signer = SignerService(
        signer_store,
        settings.region,
        KeySealer(keys),
        None
        if objects is None
        else SignerObjects(objects, S3Authoriser(identity.policies_for, settings.region)),
        SignerLimits(
            max_profiles=settings.signer_max_profiles,
            max_profile_permissions=settings.signer_max_profile_permissions,
            max_object_bytes=settings.signer_max_object_bytes,
        ),
    )
    apis[SignerApp.name] = SignerApp(signer, identity, audit, settings, rate_limiter)
    store = SqlCodeSigningStore(db)
    signing = CodeSigning(
        store, settings.region, signature_reader(signer), settings.lambda_max_code_signing_configs
    )
    service.code_signing = signing
    actions |= code_signing_actions(signing, {**FUNCTION_ACTIONS, **ACCESS_ACTIONS, **actions})

    async def forget(tenant_id: str) -> int:
        return await store.forget_tenant(tenant_id) + await signer_store.forget_tenant(tenant_id)

    return forget
