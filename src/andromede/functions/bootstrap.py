"""The runtime bootstrap a Lambda sandbox runs (decision 0286): Lambda's Python handler
contract inside the sandbox, standalone (the standard library only: it is run by the
function's ``python3.x`` with ``-I``, never imported by the platform's process).

It imports the handler (``_HANDLER``, ``module.function``, from ``/var/task``) once, then
serves invocations one at a time (a line ``{"init": true}`` asks only whether the import
succeeded: a provisioned sandbox's readiness, decision 0314): a JSON line on stdin (``id``,
``event``, ``deadline`` in epoch ms, ``arn``; ``stream`` when the caller reads the answer as
it is made, decision 0313; ``trace``, set as ``_X_AMZN_TRACE_ID`` for the invocation as AWS's
runtime sets it, so the SDK sends it with the function's calls: decision 0328),
the handler called with the event and a context as AWS's (``function_name``,
``function_version``, ``invoked_function_arn``, ``memory_limit_in_mb``, ``aws_request_id``,
``log_group_name``, ``log_stream_name``, ``get_remaining_time_in_millis()``), and the answer
one JSON line on the stdout the bootstrap kept for itself: the result, or AWS's
``errorMessage``, ``errorType``, ``stackTrace``.

A handler that returns an iterator (a generator) streams its answer: each ``bytes`` or ``str``
it yields is written at once as ``{"chunk": <base64>}`` lines of at most :data:`CHUNK` bytes
before the answer line — the pipe's back-pressure holds the handler while the caller reads,
so memory stays bounded —; when the caller did not ask for a stream (Invoke) the pieces are
gathered into the answer, as AWS buffers a streaming function's answer for Invoke. A ``dict``
yielded first is the HTTP prelude a function URL answers with (decision 0337: ``statusCode``,
``headers``, ``cookies``), Python's form of Node's ``awslambda.HttpResponseStream.from``, and
written as that does: the stream's content type :data:`PRELUDE_TYPE` (on the first chunk
line, ``contentType``), the prelude's JSON, eight NUL bytes, then the body.

The handler's own output (``print``, ``logging``, even ``os.write(1, …)``) goes to stderr,
the log the host reads; a marker line there ends each invocation's log.

Its one argument, when given, is the relay's idle timeout in seconds
(``lambda_relay_idle_timeout``, decision 0364): a connection to the platform's API that
carries no byte either way for that long is closed both ways.
"""

from __future__ import annotations

import base64
import contextlib
import importlib
import itertools
import json
import os
import resource
import selectors
import socket
import sys
import threading
import time
import traceback
from typing import Any, cast

MARKER = "\x00andromede-invocation-end "
CHUNK = 64 * 1024  # the largest piece of a streamed answer on one line
# AWS's content type of a stream that opens with an HTTP prelude, and the prelude's end.
PRELUDE_TYPE = "application/vnd.awslambda.http-integration-response"
PRELUDE_END = b"\0" * 8


class LambdaContext:
    def __init__(self, request: dict[str, Any]) -> None:
        environ = os.environ
        self.function_name = environ.get("AWS_LAMBDA_FUNCTION_NAME", "")
        self.function_version = environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.memory_limit_in_mb = environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        self.log_group_name = environ.get("AWS_LAMBDA_LOG_GROUP_NAME", "")
        self.log_stream_name = environ.get("AWS_LAMBDA_LOG_STREAM_NAME", "")
        self.invoked_function_arn = str(request.get("arn", ""))
        self.aws_request_id = str(request["id"])
        self.identity = None
        self.client_context = request.get("client_context")
        self._deadline = int(request["deadline"])

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self._deadline - int(time.time() * 1000))


def _error(exc: BaseException, error_type: str | None = None) -> dict[str, Any]:
    frames = traceback.extract_tb(exc.__traceback__)
    return {
        "errorMessage": str(exc),
        "errorType": error_type or type(exc).__name__,
        "stackTrace": traceback.format_list(frames[1:] if len(frames) > 1 else frames),
    }


def _load_handler() -> tuple[Any, dict[str, Any] | None]:
    name = os.environ.get("_HANDLER", "")
    module_name, _, function_name = name.rpartition(".")
    try:
        module = importlib.import_module(module_name.replace("/", "."))
    except Exception as exc:
        return None, {
            "errorMessage": f"Unable to import module '{module_name}': {exc}",
            "errorType": "Runtime.ImportModuleError",
            "stackTrace": [],
        }
    handler = getattr(module, function_name, None)
    if not callable(handler):
        return None, {
            "errorMessage": f"Handler '{function_name}' missing on module '{module_name}'",
            "errorType": "Runtime.HandlerNotFound",
            "stackTrace": [],
        }
    return handler, None


API_SOCKET = "/var/runtime/api.sock"
API_PORT = 9001
# The relay thread's stack: it runs one small loop, and every byte of address space it does not
# reserve is left to the handler (the sandbox's limit is the function's MemorySize).
_RELAY_STACK = 256 * 1024


class _Link:
    """One connection carried between the handler's socket and the gateway's relay socket:
    per direction at most one read's bytes waiting to be written, so a side that does not
    read holds the other back instead of filling memory; an end read is passed on as a half
    close once those bytes are written."""

    def __init__(self, client: socket.socket, upstream: socket.socket) -> None:
        self.peer = {client: upstream, upstream: client}
        self.waiting = {client: b"", upstream: b""}  # bytes to write to that socket
        self.ended = {client: False, upstream: False}  # that socket's side has ended
        self.moved = time.monotonic()  # when a byte last went either way

    def interest(self, sock: socket.socket) -> int:
        wanted = selectors.EVENT_WRITE if self.waiting[sock] else 0
        if not self.ended[sock] and not self.waiting[self.peer[sock]]:
            wanted |= selectors.EVENT_READ
        return wanted

    def readable(self, sock: socket.socket) -> None:
        data = sock.recv(CHUNK)
        peer = self.peer[sock]
        if data:
            self.moved = time.monotonic()
            self.waiting[peer] = data
            self.writable(peer)  # most often written at once
            return
        self.ended[sock] = True
        if not self.waiting[peer]:
            peer.shutdown(socket.SHUT_WR)

    def writable(self, sock: socket.socket) -> None:
        try:
            sent = sock.send(self.waiting[sock])
        except BlockingIOError:
            return
        self.waiting[sock] = self.waiting[sock][sent:]
        if sent:
            self.moved = time.monotonic()
        if not self.waiting[sock] and self.ended[self.peer[sock]]:
            sock.shutdown(socket.SHUT_WR)

    def finished(self) -> bool:
        return all(self.ended.values()) and not any(self.waiting.values())

    def close(self) -> None:
        for sock in self.peer:
            sock.close()


def _serve_api(listener: socket.socket, idle_timeout: float | None = None) -> None:
    """The platform's API on the sandbox's loopback (decision 0303): each connection to
    127.0.0.1:9001 carried to the gateway's socket bound in, the only way out — every one by
    this single thread, made before the handler is loaded. A thread a connection (two, a
    direction each) was made under the sandbox's address-space limit, the function's
    MemorySize: with boto3 loaded, a 128 MB function could not make a second connection's
    threads (8 MB of stack each), the accepting thread died of it, and every later call of
    the handler waited in the listen backlog, never reaching the gateway (decision 0350).
    Nothing here makes a thread, and no connection's failure ends the loop. A connection
    idle for ``idle_timeout`` seconds is closed both ways (decision 0364): one the handler
    holds open and silent would otherwise hold its gateway's side for ever."""
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ)
    links: dict[socket.socket, _Link] = {}
    while True:
        if idle_timeout is not None:
            _drop_idle(idle_timeout, selector, links)
        for key, events in selector.select(_next_idle(idle_timeout, links)):
            sock = cast("socket.socket", key.fileobj)  # only sockets are registered
            if sock is listener:
                _accept(listener, selector, links)
                continue
            link = links.get(sock)
            if link is None:  # closed by its peer's event in this same round
                continue
            try:
                if events & selectors.EVENT_WRITE:
                    link.writable(sock)
                if events & selectors.EVENT_READ and link.interest(sock) & selectors.EVENT_READ:
                    link.readable(sock)
            except Exception:  # this connection's end (a reset, no memory), not the loop's
                _drop(link, selector, links)
                continue
            if link.finished():
                _drop(link, selector, links)
            else:
                for end in link.peer:
                    _watch(selector, end, link.interest(end))


def _accept(
    listener: socket.socket, selector: selectors.BaseSelector, links: dict[socket.socket, _Link]
) -> None:
    try:
        client, _ = listener.accept()
    except OSError:
        return
    upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        upstream.settimeout(10)  # the gateway's relay accepts at once; a full backlog waits
        upstream.connect(API_SOCKET)
    except OSError:
        client.close()
        upstream.close()
        return
    link = _Link(client, upstream)
    for end in (client, upstream):
        end.setblocking(False)
        links[end] = link
        _watch(selector, end, link.interest(end))


def _watch(selector: selectors.BaseSelector, sock: socket.socket, events: int) -> None:
    try:
        registered = selector.get_key(sock)
    except KeyError:
        if events:
            selector.register(sock, events)
        return
    if not events:
        selector.unregister(sock)
    elif registered.events != events:
        selector.modify(sock, events)


def _drop(link: _Link, selector: selectors.BaseSelector, links: dict[socket.socket, _Link]) -> None:
    for end in link.peer:
        links.pop(end, None)
        with contextlib.suppress(KeyError, ValueError):
            selector.unregister(end)
    link.close()


def _next_idle(idle_timeout: float | None, links: dict[socket.socket, _Link]) -> float | None:
    """Seconds until the first of the connections would be idle too long (None: no bound)."""
    if idle_timeout is None or not links:
        return None
    oldest = min(link.moved for link in links.values())
    return max(0.0, oldest + idle_timeout - time.monotonic())


def _drop_idle(
    idle_timeout: float, selector: selectors.BaseSelector, links: dict[socket.socket, _Link]
) -> None:
    now = time.monotonic()
    for link in {id(link): link for link in links.values()}.values():
        if now - link.moved >= idle_timeout:
            _drop(link, selector, links)


def _answer(out: Any, request_id: str, answer: dict[str, Any]) -> None:
    sys.stdout.flush()
    sys.stderr.write(MARKER + request_id + "\n")
    sys.stderr.flush()
    answer["maxRss"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    out.write(json.dumps(answer) + "\n")
    out.flush()


def _streams(result: Any) -> bool:
    """Whether a handler's result is an answer to stream: an iterator, not a JSON value."""
    return hasattr(result, "__next__") and not isinstance(result, (str, bytes, dict, list))


def _opened(result: Any) -> tuple[str | None, Any]:
    """The stream's content type and its items: a ``dict`` yielded first is the HTTP prelude,
    given back as its JSON and :data:`PRELUDE_END` (what the handler raises making its first
    item is raised here, before anything is written)."""
    items = iter(result)
    end = object()
    first = next(items, end)
    if first is end:
        return None, items
    if isinstance(first, dict):
        return PRELUDE_TYPE, itertools.chain([json.dumps(first).encode() + PRELUDE_END], items)
    return None, itertools.chain([first], items)


def _pieces(items: Any) -> Any:
    """The bytes a streaming handler yields, in pieces of at most :data:`CHUNK`."""
    for item in items:
        if isinstance(item, str):
            item = item.encode("utf-8")
        if not isinstance(item, (bytes, bytearray, memoryview)):
            raise TypeError(
                f"Object of type {type(item).__name__} is not bytes or str: a streamed "
                "answer is bytes"
            )
        data = bytes(item)
        for start in range(0, len(data), CHUNK):
            yield data[start : start + CHUNK]


def _respond(out: Any, result: Any, streaming: bool) -> dict[str, Any]:
    """The answer to a handler's result, its streamed pieces written to ``out`` first."""
    if not _streams(result):
        return {"ok": True, "payload": json.dumps(result)}
    content_type, items = _opened(result)
    if not streaming:
        gathered = b"".join(_pieces(items))
        return {"ok": True, "payload": "", "raw": base64.b64encode(gathered).decode()}
    for piece in _pieces(items):
        line: dict[str, str] = {"chunk": base64.b64encode(piece).decode()}
        if content_type is not None:
            line["contentType"] = content_type
            content_type = None  # told once, with the first piece
        out.write(json.dumps(line) + "\n")
        out.flush()
    return {"ok": True, "payload": ""}


def main() -> None:
    # The answers' channel is the stdout the bootstrap was given; fd 1 becomes the log.
    out = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = os.fdopen(1, "w", buffering=1, encoding="utf-8", closefd=False)
    # ``-I`` ignores PYTHONPATH: its folders (the layers' ``/opt/python…``, decision 0302)
    # are put on the path here, after the function's own code, as AWS's runtime orders them.
    for folder in reversed(os.environ.get("PYTHONPATH", "").split(":")):
        if folder and folder not in sys.path:
            sys.path.insert(0, folder)
    sys.path.insert(0, os.environ.get("LAMBDA_TASK_ROOT", "/var/task"))
    # The AWS SDK the runtime carries, after the function's own modules, as AWS's.
    sys.path.append("/var/runtime")
    if os.path.exists(API_SOCKET):
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.bind(("127.0.0.1", API_PORT))  # bound before the handler may connect
        listener.listen(128)
        threading.stack_size(_RELAY_STACK)
        idle = float(sys.argv[1]) if len(sys.argv) > 1 else None
        threading.Thread(target=_serve_api, args=(listener, idle), daemon=True).start()
        threading.stack_size(0)  # the handler's own threads get the usual stack
    os.chdir(os.environ.get("LAMBDA_TASK_ROOT", "/var/task"))
    handler, broken = _load_handler()
    for line in sys.stdin:
        request = json.loads(line)
        request_id = str(request["id"])
        if request.get("init"):  # a provisioned sandbox's readiness (decision 0314)
            _answer(out, request_id, {"ok": broken is None, "error": broken})
            continue
        if broken is not None:
            print(f"[ERROR] {broken['errorType']}: {broken['errorMessage']}", file=sys.stderr)
            _answer(out, request_id, {"ok": False, "error": broken})
            continue
        trace = request.get("trace")
        if trace:
            os.environ["_X_AMZN_TRACE_ID"] = str(trace)
        else:
            os.environ.pop("_X_AMZN_TRACE_ID", None)
        try:
            event = json.loads(request["event"])
            result = handler(event, LambdaContext(request))
            answer = _respond(out, result, bool(request.get("stream")))
        except MemoryError as exc:
            error = _error(exc, "Runtime.OutOfMemory")
            error["errorMessage"] = f"RequestId: {request_id} Error: Runtime exited: out of memory"
            _answer(out, request_id, {"ok": False, "error": error, "exit": True})
            os._exit(1)
        except Exception as exc:
            error = _error(exc)
            if "is not JSON serializable" in str(exc) or "is not bytes or str" in str(exc):
                error = {
                    "errorMessage": f"Unable to marshal response: {exc}",
                    "errorType": "Runtime.MarshalError",
                    "stackTrace": [],
                }
            print(
                f"[ERROR] {error['errorType']}: {error['errorMessage']}\nTraceback (most recent "
                "call last):\n" + "".join(error["stackTrace"]),
                file=sys.stderr,
            )
            _answer(out, request_id, {"ok": False, "error": error})
        else:
            _answer(out, request_id, answer)


if __name__ == "__main__":
    main()
