"""Records sent into a Firehose stream from its console page (decisions 0251 and 0367): a test
record typed (PutRecord), or each of its lines a record of one PutRecordBatch, and the AWS
console's "Test with demo data" — a batch of made-up stock ticker records, JSON lines as AWS's
own demo sends them. Each is Firehose's own call as the signed-in user, so its permission
(``firehose:PutRecord``, ``firehose:PutRecordBatch``), its bounds (a record's size, 1 to 500
records and 4 MiB a batch) and its errors answer it, shown in the page; the records it took and
refused come back to the page as numbers and error codes only (:func:`batch_shown`), never as
text a link could forge.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final
from urllib.parse import quote, urlencode

from starlette.requests import Request

from andromede.console.handlers import Form, FormFault, words
from andromede.console.session import CONSOLE_PATH
from andromede.console.wire_firehose import BatchAnswer, FirehoseWire

if TYPE_CHECKING:
    from andromede.console.app import Session

__all__ = [
    "DEFAULT_DEMO_RECORDS",
    "BatchShown",
    "batch_shown",
    "demo_records",
    "put_demo",
    "put_record",
]

DEFAULT_DEMO_RECORDS: Final = 10  # the demo form's first count
_BATCH_MAX: Final = 500  # PutRecordBatch's bound (AWS's): a demo batch is made within it
# The demo's records, as AWS's console makes them (its "Test with demo data").
_TICKERS: Final = (
    ("QXZ", "HEALTHCARE"), ("WAS", "RETAIL"), ("KFU", "ENERGY"), ("NGC", "TECHNOLOGY"),
    ("TBV", "FINANCIAL"), ("ALY", "ENERGY"), ("BNM", "TECHNOLOGY"), ("PPL", "HEALTHCARE"),
)  # fmt: skip
_CODE: Final = re.compile(r"[A-Za-z.]{1,64}")  # an error code shown from the page's address
_CODES_SHOWN: Final = 3


def _url(request: Request, shown: dict[str, str]) -> str:
    name = quote(str(request.path_params.get("name", "")), safe="")
    return f"{CONSOLE_PATH}/firehose/{name}?{urlencode(shown)}#put-record"


def demo_records(count: int) -> list[bytes]:
    """``count`` made-up stock ticker records, each a JSON line
    (``{"ticker_symbol": "QXZ", "sector": "HEALTHCARE", "change": -0.05, "price": 84.51}``)."""
    records = []
    for _ in range(count):
        ticker, sector = secrets.choice(_TICKERS)
        price = (secrets.randbelow(19_900) + 100) / 100
        change = (secrets.randbelow(201) - 100) / 100
        line = {"ticker_symbol": ticker, "sector": sector, "change": change, "price": price}
        records.append(json.dumps(line).encode() + b"\n")
    return records


def _answered(answer: BatchAnswer) -> dict[str, str]:
    shown = {"batch": str(answer.put), "failed": str(answer.failed),
             "encrypted": "yes" if answer.encrypted else "no"}  # fmt: skip
    if answer.codes:
        shown["codes"] = ",".join(answer.codes[:_CODES_SHOWN])
    return shown


async def put_record(wire: FirehoseWire, request: Request, session: Session, fields: Form) -> str:
    """The text typed as UTF-8: one PutRecord, a newline added when asked (records are often
    JSON lines, and Firehose adds no separator); or, asked, each non-empty line a record of
    one PutRecordBatch (sent however many: Firehose's bound answers)."""
    newline = "\n" if fields.get("newline") == "yes" else ""
    if fields.get("lines") == "yes":
        lines = [line for line in fields.get("data", "").splitlines() if line.strip()]
        if not lines:
            _ = words(request)
            raise FormFault(_("Type at least one record, a line each."))
        datas = [(line + newline).encode() for line in lines]
        answer = await wire.put_batch(request.scope, session.principal, _name(request), datas)
        return _url(request, _answered(answer))
    data = fields.get("data", "") + newline
    record_id, encrypted = await wire.put_record(
        request.scope, session.principal, _name(request), data.encode()
    )
    return _url(request, {"record": record_id, "encrypted": "yes" if encrypted else "no"})


async def put_demo(wire: FirehoseWire, request: Request, session: Session, fields: Form) -> str:
    """A batch of demo records (PutRecordBatch), as many as typed within PutRecordBatch's
    bound: the console makes them, so it bounds how many it makes."""
    typed = fields.get("count", "").strip()
    if not typed.isdigit() or not 1 <= int(typed) <= _BATCH_MAX:
        _ = words(request)
        raise FormFault(_("Send between 1 and 500 demo records (PutRecordBatch's bound)."))
    datas = demo_records(int(typed))
    answer = await wire.put_batch(request.scope, session.principal, _name(request), datas)
    return _url(request, _answered(answer))


def _name(request: Request) -> str:
    return str(request.path_params.get("name", ""))


@dataclass(frozen=True, slots=True)
class BatchShown:
    """A batch's answer as the page's address carries it back: numbers, and error codes
    that are words only (anything else is not shown)."""

    put: int
    failed: int
    encrypted: bool
    codes: tuple[str, ...]


def batch_shown(query: Mapping[str, str]) -> BatchShown | None:
    """The batch answer a page's query tells (None: none, or not one the console wrote)."""
    put, failed = query.get("batch", ""), query.get("failed", "")
    if not (put.isdigit() and failed.isdigit() and len(put) <= 4 and len(failed) <= 4):
        return None
    codes = tuple(c for c in query.get("codes", "").split(",")[:_CODES_SHOWN] if _CODE.fullmatch(c))
    return BatchShown(int(put), int(failed), query.get("encrypted") == "yes", codes)
