"""Which VPC endpoint an S3 request came through: the neutral module's names under S3's older
path (decision 0174 moved the origin to :mod:`andromede.iam.endpoint_origin`, which every API
an endpoint serves reads)."""

from __future__ import annotations

from andromede.iam.endpoint_origin import (
    EndpointOrigin,
    current_origin,
    origin_keys,
    through_endpoint,
)

__all__ = ["EndpointOrigin", "current_origin", "origin_keys", "through_endpoint"]
