"""Blobs in a Ceph RADOS pool through librados (Debian's ``python3-rados``), striped.

Layout of blob ``X`` with stripe size ``S`` (docs/decisions/0008-librados-in-venv.md):

- the *head*, RADOS object ``X``: bytes ``[0, S)`` of the blob, and an xattr
  ``andromede.blob`` = ``{"format": 1, "size": …, "stripe_size": S}``;
- the *tails*, RADOS objects ``X.1``, ``X.2``, …: bytes ``[kS, (k+1)S)``.

A writer sends each full tail as soon as it has it (at most ``writes_in_flight`` of them in
flight per blob) and keeps the first stripe in memory; :meth:`RadosBlobWriter.commit` waits for
every tail's acknowledgement (durable on the OSDs, in Ceph's sense), checks that none was swept
meanwhile, then writes the head, data and xattr in one atomic operation. A head therefore
exists only for a complete blob: it is the commit marker, and a blob of up to ``S`` bytes costs
one RADOS write. Tails without a head are temporaries (a writer still running or crashed, or a
deleted blob); :meth:`RadosBlobStore.remove_stale_temporaries` removes those older than the
sweeper's grace.

:meth:`RadosBlobStore.delete` removes the head only: the blob disappears at once and its tails
follow at the sweeper's next pass. A read fetches the part of its range that the head holds
before it yields anything, and the tails stay until the sweeper runs, so a read that started
before a deletion finishes (the unlink semantics of the local store, bounded by the sweep
interval; the service's deletion grace is what GETs rely on). A range within one stripe is one
RADOS read, a larger one also stats the head and its last tail first.

I/O is asynchronous: librados completions resolve asyncio futures through
``loop.call_soon_threadsafe``; no thread waits on the network. librados calls completions on
its own threads, which Python does not know: each callback would make a Python thread state
and drop it again (see ``blob_rados_ops._keep_thread_state``), so the first callback on
each such thread keeps one for the thread's life. Only connecting and object listings (for the
sweeper) run in worker threads. Every operation has librados' own timeouts
(``rados_osd_op_timeout``, ``rados_mon_op_timeout``): a cluster that does not answer gives
:class:`BlobStoreUnavailable`, never a hang.

Recovery: a librados client does not always find its way back to a cluster whose daemons all
died at once (its reads keep timing out after the cluster is back). So an operation that fails
as "cluster away" (timed out, not connected, shut down) makes :class:`RadosCluster` drop its
client and connect a new one, retrying with a growing delay until the cluster answers, then
reopen every store's pool on it. Meanwhile operations fail at once with
:class:`BlobStoreUnavailable` (S3 answers 503) instead of waiting out a timeout each. The old
client is shut down once the operations still in flight on it have had their timeout.

The parts, split off for size: ``blob_rados_store`` (:class:`RadosBlobStore`, reads and the
librados operations), ``blob_rados_writer`` (:class:`RadosBlobWriter`), ``blob_rados_cluster``
(:class:`RadosCluster`, the client and its recovery) and ``blob_rados_ops`` (names, return
codes, completions). Callers import from here.
"""

from __future__ import annotations

from andromede.storage.blob_rados_cluster import RadosCluster, RadosConfig
from andromede.storage.blob_rados_ops import DEFAULT_READ_BLOCK_SIZE, DEFAULT_STRIPE_SIZE
from andromede.storage.blob_rados_store import RadosBlobStore
from andromede.storage.blob_rados_writer import RadosBlobWriter

__all__ = [
    "DEFAULT_READ_BLOCK_SIZE",
    "DEFAULT_STRIPE_SIZE",
    "RadosBlobStore",
    "RadosBlobWriter",
    "RadosCluster",
    "RadosConfig",
]
