"""The restart counts of a host's supervised network processes (decisions 0375, 0378), kept
in ``process-restarts.json`` under the tenant networks' state directory so that a restarted
agent goes on counting where the one before stopped (decision 0389): the operator's
monitoring reads them as counters, which must only rise while the host lives.

The file holds counts by kind only (no router, subnet or address), carries a format version,
and is rewritten whole and atomically after each restart counted (a rare event: at most one a
process a supervision round). A file that cannot be read (damaged, from a newer format) is
logged and counting starts again from zero: a counter's reset is what a monitoring system
already copes with (a host's reboot), a refused agent start is not.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Final

from andromede.hypervisor.dns_supervision import DnsProcess

__all__ = ["FORMAT", "load_restarts", "save_restarts"]

log = logging.getLogger(__name__)

FORMAT: Final = 1  # the file's format version


def load_restarts(path: Path) -> dict[DnsProcess, int]:
    """The counts kept at ``path``, every kind present; zero for all when there is no file
    yet (a new host, an agent from before decision 0389) or it cannot be read."""
    counts = dict.fromkeys(DnsProcess, 0)
    try:
        document = json.loads(path.read_text())
    except FileNotFoundError:
        return counts
    except (OSError, ValueError):
        log.warning("the restart counts at %s cannot be read: counting from zero", path)
        return counts
    kept = document.get("restarts") if isinstance(document, dict) else None
    if (
        not isinstance(document, dict)
        or document.get("format") != FORMAT
        or not isinstance(kept, dict)
    ):
        log.warning("the restart counts at %s are of no known format: counting from zero", path)
        return counts
    for process in DnsProcess:
        count = kept.get(process.name.lower(), 0)
        if isinstance(count, int) and not isinstance(count, bool) and count >= 0:
            counts[process] = count
    return counts


def save_restarts(path: Path, counts: Mapping[DnsProcess, int]) -> None:
    """Write ``counts`` to ``path`` (its directory made 0700 when missing), atomically."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    document = {
        "format": FORMAT,
        "restarts": {process.name.lower(): count for process, count in counts.items()},
    }
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(document, sort_keys=True))
    os.replace(temporary, path)
