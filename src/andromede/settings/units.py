"""Byte units the settings' defaults and bounds are written in."""

from __future__ import annotations

__all__ = ["GIB", "KIB", "MIB"]

KIB = 1024
MIB = 1024 * KIB
GIB = 1024 * MIB
