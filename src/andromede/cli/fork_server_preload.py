"""What ``multiprocessing``'s fork server loads before it forks the workers of ``andromede
serve``, where the workers cannot be forked from the serving process itself (a thread was
already running: ``cli.workers.start_worker_template``, decision 0115): the whole application,
so that a worker starts without importing it, and SIGTERM ignored.

The fork server is ``multiprocessing``'s: it ends when the serving process does, and until then
it is the one that learns of a worker's exit and tells the serving process. A supervisor's
SIGTERM goes to every process of the service (systemd's default, a process group's kill); had the
fork server died of it at once, the serving process would have taken its workers for dead and
left while they still drained their requests. The workers set their own handlers.

Only the fork server imports this module.
"""

from __future__ import annotations

import signal

signal.signal(signal.SIGTERM, signal.SIG_IGN)

import andromede.app  # noqa: E402, F401  (the point of this module: imported before any fork)
