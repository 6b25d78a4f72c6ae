"""A Firehose HTTP endpoint destination's receiver for the end-to-end tests: a server on
loopback over plain http (what decision 0250 allows the tests' deployment), recording each
request's headers and JSON document and answering as Firehose's HTTP endpoint delivery
specification asks (the request's id and a timestamp)."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["HttpEndpoint", "http_endpoint"]


@dataclass
class HttpEndpoint:
    """The receiver's ``url`` and what it was sent, in order (a retried request again)."""

    url: str
    received: list[tuple[dict[str, str], dict[str, Any]]] = field(default_factory=list)

    def records(self) -> list[bytes]:
        """The records' data, decoded, in the order sent; a retried request counts once."""
        by_request = {d["requestId"]: d["records"] for _, d in list(self.received)}
        return [base64.b64decode(r["data"]) for records in by_request.values() for r in records]


@contextmanager
def http_endpoint(path: str = "/in") -> Iterator[HttpEndpoint]:
    """A receiver listening until the block ends, at ``path`` of a free loopback port."""
    received: list[tuple[dict[str, str], dict[str, Any]]] = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            document = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            received.append((dict(self.headers.items()), document))
            reply = json.dumps({"requestId": document["requestId"], "timestamp": 1}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    receiver = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=receiver.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield HttpEndpoint(f"http://127.0.0.1:{receiver.server_address[1]}{path}", received)
    finally:
        receiver.shutdown()
        receiver.server_close()
        thread.join(5)
