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
    settings = ctx.settings
    served = settings.served_region_names
    return RegionList(
        regions=[
            Region(
                name=region.name,
                s3_domain=settings.s3_domain,
                scheme="https" if settings.tls_cert else "http",
                current=region.name in served,
                default=region.name == settings.region,
                jurisdiction=region.jurisdiction,
                endpoint=region.endpoint,
            )
            for region in settings.declared_regions
        ]
    )


@router.get("/health", summary="Whether this gateway answers (no details, no authentication)")
async def health() -> Health:
    return Health(status="ok")
