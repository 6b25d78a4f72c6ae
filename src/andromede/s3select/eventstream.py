"""SelectObjectContent's events (``Records``, ``Stats``, ``Progress``, ``Cont``, ``End``
and the error message) over the wire layer's event-stream framing
(:func:`andromede.awswire.eventstream.frame`); a unit test checks them with botocore's
decoder.
"""

from __future__ import annotations

from typing import Final

from andromede.awswire.eventstream import frame

__all__ = [
    "MAX_RECORDS_PAYLOAD",
    "cont",
    "end",
    "error",
    "progress",
    "records",
    "stats",
]

MAX_RECORDS_PAYLOAD: Final = 64 * 1024  # a Records event's payload, at most (as AWS batches)


def _event(event_type: str, payload: bytes = b"", content_type: str | None = None) -> bytes:
    headers = [(":message-type", "event"), (":event-type", event_type)]
    if content_type is not None:
        headers.append((":content-type", content_type))
    return frame(headers, payload)


def records(payload: bytes) -> bytes:
    return _event("Records", payload, "application/octet-stream")


def _counts(root: str, scanned: int, processed: int, returned: int) -> bytes:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><{root} xmlns="">'
        f"<BytesScanned>{scanned}</BytesScanned><BytesProcessed>{processed}</BytesProcessed>"
        f"<BytesReturned>{returned}</BytesReturned></{root}>"
    ).encode()


def stats(scanned: int, processed: int, returned: int) -> bytes:
    return _event("Stats", _counts("Stats", scanned, processed, returned), "text/xml")


def progress(scanned: int, processed: int, returned: int) -> bytes:
    return _event("Progress", _counts("Progress", scanned, processed, returned), "text/xml")


def cont() -> bytes:
    """A keep-alive: sent when a scan runs long without a record to send."""
    return _event("Cont")


def end() -> bytes:
    return _event("End")


def error(code: str, message: str) -> bytes:
    return frame([(":message-type", "error"), (":error-code", code), (":error-message", message)])
