"""Which source ports a VPC router gives what it sends to a host's endpoint listener, pure
(decision 0166).

The listener knows a connection only by its two ends: its own address (one router, so one
VPC) and the source the router translated the instance's to (one instance). An Interface
endpoint is known by where the instance sent — the router's to know, lost to the host after
the translation. So the router translates the source port too: into the ports of the
Interface endpoint's **slot** (its place among the VPC's, ``INTERFACE_PORT_BASE`` + slot *
``INTERFACE_PORT_WIDTH`` onwards) for what it sends to that endpoint's interfaces, and below
``INTERFACE_PORT_BASE`` for what it sends to a gateway endpoint's addresses. Neither is the
guest's to choose (the translation forces the range), and the listener reads the slot back.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "INTERFACE_PORT_BASE",
    "INTERFACE_PORT_WIDTH",
    "INTERFACE_SLOTS",
    "interface_slot_of_port",
    "interface_source_ports",
]

INTERFACE_PORT_BASE: Final = 20480
# 1,024 connections at once per instance and Interface endpoint.
INTERFACE_PORT_WIDTH: Final = 1024
# The most Interface endpoints a VPC holds (a setting may keep it lower).
INTERFACE_SLOTS: Final = 32


def interface_source_ports(slot: int) -> tuple[int, int]:
    """The source ports (inclusive) of an Interface endpoint's connections at the listener;
    slot -1: a gateway endpoint's (1024 up to the first slot's)."""
    if slot < 0:
        return 1024, INTERFACE_PORT_BASE - 1
    low = INTERFACE_PORT_BASE + slot * INTERFACE_PORT_WIDTH
    return low, low + INTERFACE_PORT_WIDTH - 1


def interface_slot_of_port(port: int) -> int:
    """The Interface endpoint slot a listener's client port names; -1 for none."""
    if INTERFACE_PORT_BASE <= port < INTERFACE_PORT_BASE + INTERFACE_SLOTS * INTERFACE_PORT_WIDTH:
        return (port - INTERFACE_PORT_BASE) // INTERFACE_PORT_WIDTH
    return -1
