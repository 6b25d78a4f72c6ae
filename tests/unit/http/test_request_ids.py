"""Request ids: AWS's shape (16 upper-case hex digits), distinct, and distinct after a fork."""

from __future__ import annotations

import os
import re

from andromede.http.asgi import new_request_id


def test_request_ids_have_the_shape_and_do_not_repeat() -> None:
    ids = [new_request_id() for _ in range(20_000)]
    assert all(re.fullmatch(r"[0-9A-F]{16}", rid) for rid in ids)
    assert len(set(ids)) == len(ids)


def test_a_forked_worker_draws_other_ids_than_its_parent() -> None:
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its next ids, to the parent, then out without cleanup
        os.close(reader)
        os.write(writer, "".join(new_request_id() for _ in range(4)).encode())
        os._exit(0)
    os.close(writer)
    ours = "".join(new_request_id() for _ in range(4))
    with os.fdopen(reader, "rb") as pipe:
        theirs = pipe.read().decode()
    os.waitpid(pid, 0)
    assert len(theirs) == 64 and theirs != ours
