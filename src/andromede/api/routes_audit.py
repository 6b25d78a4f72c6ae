"""The audit trail: signed checkpoints, entries and proofs of the transparency logs (0105).

A log is named ``platform`` or by its tenant (account id or name). A tenant's principals read
its tenant's log as their IAM policies allow (``andromede:GetAuditCheckpoint``,
``GetAuditEntries``, ``GetAuditPrunedHashes``, ``GetAuditProof`` on
``arn:aws:andromede::ACCOUNT:audit-log``; its root user, always: decision 0113); platform
operators read the platform log. Anyone else, and a log the caller may not read, gets 404 as
for a log that does not exist (a name's existence does not leak); a tenant's principal whose
policies do not allow the read, 403. The region's public key is public: it is what a verifier
must already trust.
"""

from __future__ import annotations

import base64
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query

from andromede.api.auth import context
from andromede.api.context import ApiContext
from andromede.api.permissions import Action, Authorizer, audit_log_arn, authorizer
from andromede.api.problems import ApiProblem
from andromede.api.schemas import (
    TENANT_REFERENCE,
    AuditCheckpoint,
    AuditCosignedCheckpoint,
    AuditEntries,
    AuditProof,
    AuditPruned,
    AuditPublicKey,
)
from andromede.audit.model import PLATFORM_LOG
from andromede.audit.trail import AuditTrail, SignedCheckpoint
from andromede.iam.errors import NoSuchTenant

__all__ = ["router"]

router = APIRouter(prefix="/audit", tags=["audit"])

LogRef = Annotated[
    str,
    Path(pattern=TENANT_REFERENCE, description="'platform', or the tenant's account id or name."),
]
Responses = dict[int | str, dict[str, Any]]
_HIDDEN: Responses = {
    400: {"description": "A range, index or size the log cannot answer for"},
    410: {"description": "Entries past the retention: pruned, their hashes under /pruned"},
    403: {"description": "A tenant principal whose IAM policies do not allow the read"},
    404: {"description": "No such log, or not one the caller may read"},
}
_SIZE = Query(ge=0, le=2**62, description="A tree size")


def _trail(ctx: ApiContext) -> AuditTrail:
    if ctx.trail is None:
        raise ApiProblem("not-found", 404, "Not found", "This server keeps no audit trail.")
    return ctx.trail


async def _readable_log(
    ctx: ApiContext, allow: Authorizer, reference: str, action: Action
) -> tuple[AuditTrail, str]:
    """The trail and the log id named by ``reference`` if the caller may read it with
    ``action``."""
    trail = _trail(ctx)
    return trail, await _log_id(ctx, allow, reference, action)


async def _log_id(ctx: ApiContext, allow: Authorizer, reference: str, action: Action) -> str:
    principal = allow.who.principal
    hidden = ApiProblem("no-such-log", 404, "No such log", f"No audit log {reference}.")
    if reference == PLATFORM_LOG:
        if not principal.is_operator:
            raise hidden
        return PLATFORM_LOG
    if principal.is_operator or principal.tenant_id is None:
        raise hidden
    try:
        tenant = await ctx.identity.get_tenant(reference)
    except NoSuchTenant:
        raise hidden from None
    if tenant is None or tenant.id != principal.tenant_id:
        raise hidden
    await allow(action, audit_log_arn(tenant.id), account=tenant.id)
    return tenant.id


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


async def _checkpoint_fields(
    trail: AuditTrail, log_id: str, signed: SignedCheckpoint
) -> dict[str, Any]:
    """What a checkpoint, cosigned or not, tells of ``signed``."""
    return {
        "log": log_id,
        "origin": signed.origin,
        "size": signed.size,
        "root_hash": _b64(signed.root_hash),
        "checkpoint": signed.note,
        "key_transitions": await trail.key_transitions(log_id),
    }


@router.get("/public-key", summary="The region's log signing key (no authentication)")
async def public_key(ctx: Annotated[ApiContext, Depends(context)]) -> AuditPublicKey:
    key = await _trail(ctx).signing_key()  # the current one, after a rotation (0140)
    return AuditPublicKey(
        key_name=key.name, verifier_key=key.verifier_key, public_key=_b64(key.public_key)
    )


@router.get(
    "/logs/{log}/checkpoint", summary="The log's latest signed checkpoint", responses=_HIDDEN
)
async def checkpoint(
    log: LogRef,
    allow: Annotated[Authorizer, Depends(authorizer)],
    ctx: Annotated[ApiContext, Depends(context)],
) -> AuditCheckpoint:
    trail, log_id = await _readable_log(ctx, allow, log, Action.GET_AUDIT_CHECKPOINT)
    signed = await trail.checkpoint(log_id)
    return AuditCheckpoint(**await _checkpoint_fields(trail, log_id, signed))


@router.get(
    "/logs/{log}/cosigned-checkpoint",
    summary="The log's checkpoint at the size its witnesses last cosigned, with their cosignatures",
    responses=_HIDDEN,
)
async def cosigned_checkpoint(
    log: LogRef,
    allow: Annotated[Authorizer, Depends(authorizer)],
    ctx: Annotated[ApiContext, Depends(context)],
) -> AuditCosignedCheckpoint:
    """What ``andromede audit download --cosigned`` fetches (decision 0122): 404
    ``not-cosigned`` until a witness of ``audit_witnesses`` has cosigned the log."""
    trail, log_id = await _readable_log(ctx, allow, log, Action.GET_AUDIT_CHECKPOINT)
    found = await trail.cosigned_checkpoint(log_id)
    if found is None:
        raise ApiProblem(
            "not-cosigned", 404, "Not cosigned", f"No witness has cosigned the log {log} yet."
        )
    signed, witnesses = found
    return AuditCosignedCheckpoint(
        **await _checkpoint_fields(trail, log_id, signed), witnesses=witnesses
    )


@router.get("/logs/{log}/entries", summary="The log's entries [start, end)", responses=_HIDDEN)
async def entries(
    log: LogRef,
    allow: Annotated[Authorizer, Depends(authorizer)],
    ctx: Annotated[ApiContext, Depends(context)],
    start: Annotated[int, _SIZE],
    end: Annotated[int, _SIZE],
) -> AuditEntries:
    trail, log_id = await _readable_log(ctx, allow, log, Action.GET_AUDIT_ENTRIES)
    return AuditEntries(log=log_id, start=start, entries=await trail.entries(log_id, start, end))


@router.get(
    "/logs/{log}/pruned",
    summary="The entries retention pruned: their count and the hashes that stand for them",
    responses=_HIDDEN,
)
async def pruned(
    log: LogRef,
    allow: Annotated[Authorizer, Depends(authorizer)],
    ctx: Annotated[ApiContext, Depends(context)],
) -> AuditPruned:
    trail, log_id = await _readable_log(ctx, allow, log, Action.GET_AUDIT_PRUNED_HASHES)
    size, hashes = await trail.pruned(log_id)
    return AuditPruned(log=log_id, size=size, hashes=[_b64(h) for h in hashes])


@router.get(
    "/logs/{log}/proofs/inclusion",
    summary="The inclusion proof of a leaf in the tree of a given size",
    responses=_HIDDEN,
)
async def inclusion_proof(
    log: LogRef,
    allow: Annotated[Authorizer, Depends(authorizer)],
    ctx: Annotated[ApiContext, Depends(context)],
    index: Annotated[int, _SIZE],
    size: Annotated[int, _SIZE],
) -> AuditProof:
    trail, log_id = await _readable_log(ctx, allow, log, Action.GET_AUDIT_PROOF)
    proof = await trail.inclusion_proof(log_id, index, size)
    return AuditProof(log=log_id, hashes=[_b64(h) for h in proof])


@router.get(
    "/logs/{log}/proofs/consistency",
    summary="The consistency proof between two tree sizes",
    responses=_HIDDEN,
)
async def consistency_proof(
    log: LogRef,
    allow: Annotated[Authorizer, Depends(authorizer)],
    ctx: Annotated[ApiContext, Depends(context)],
    first: Annotated[int, _SIZE],
    second: Annotated[int, _SIZE],
) -> AuditProof:
    trail, log_id = await _readable_log(ctx, allow, log, Action.GET_AUDIT_PROOF)
    proof = await trail.consistency_proof(log_id, first, second)
    return AuditProof(log=log_id, hashes=[_b64(h) for h in proof])
