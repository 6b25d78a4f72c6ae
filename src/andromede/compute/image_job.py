"""A CreateImage at work in the background (decision 0148): the record that lets any gateway
finish it.

CreateImage of a running instance without ``NoReboot`` stops the instance, snapshots its
volumes and starts it again. That work outlives the call, and may outlive the gateway that
took it: :class:`ImageCreation`, kept on the pending image (in its JSON document), says which
instance it stopped, which volumes become which snapshots, the step reached, whether the
instance is to be started again, and which gateway holds the work until when (a lease, renewed
while it runs). A gateway that finds the lease run out claims the work by a conditional write
of the image (its revision), so that exactly one finishes it. Pure: no I/O here.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

__all__ = ["CreationStep", "ImageCreation", "ImageStateReason"]


class CreationStep(enum.StrEnum):
    STOPPING = "stopping"  # the instance is to be stopped, or is stopping
    SNAPSHOTTING = "snapshotting"  # it is stopped: the snapshots not yet taken are taken
    FINISHING = "finishing"  # it is started again if it is to be, and the image ends


@dataclass(frozen=True, slots=True)
class ImageStateReason:
    """EC2's ``StateReason`` of a failed image: a ``Client.``/``Server.`` code and a message."""

    code: str
    message: str


@dataclass(frozen=True, slots=True)
class ImageCreation:
    instance_id: str
    # (volume id, snapshot id) in the order they are taken, the root first.
    volumes: tuple[tuple[str, str], ...]
    snapshot_tags: tuple[tuple[str, str], ...] = ()
    step: CreationStep = CreationStep.STOPPING
    # Whether the instance is started again at the end: CreateImage stops it, and a tenant's
    # StopInstances meanwhile clears it (the tenant's stop is not undone).
    restart: bool = True
    # The gateway working on it, until when (past it, another may claim the work).
    holder: str = ""
    lease_until: datetime | None = None
    # Why it fails, once a step failed: the image ends ``failed`` with it.
    failure: ImageStateReason | None = None

    def claimable(self, now: datetime) -> bool:
        """Whether no gateway holds the work any more (its lease ran out)."""
        return self.lease_until is None or self.lease_until <= now
