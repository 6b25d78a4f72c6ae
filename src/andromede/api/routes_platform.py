"""What the platform offers: regions, and an unauthenticated health check."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from andromede.api.auth import Caller, caller, context
from andromede.api.context import ApiContext
from andromede.api.schemas import Health, Region, RegionList

__all__ = ["router"]

router = APIRouter(tags=["platform"])


@router.get("/regions", summary="The regions of this deployment")
async def list_regions(
    _who: Annotated[Caller, Depends(caller)], ctx: Annotated[ApiContext, Depends(context)]
) -> RegionList:
    # One region per deployment today (settings.region); several arrive with the compute issue.
    settings = ctx.settings
    region = Region(
        name=settings.region,
        s3_domain=settings.s3_domain,
        scheme="https" if settings.tls_cert else "http",
        current=True,
    )
    return RegionList(regions=[region])


@router.get("/health", summary="Whether this gateway answers (no details, no authentication)")
async def health() -> Health:
    return Health(status="ok")
