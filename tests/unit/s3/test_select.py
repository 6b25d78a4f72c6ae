"""SelectObjectContent through the S3 app in process (decision 0234): the request as botocore
serialises it, the answer decoded by botocore's event-stream parser; authorisation, SSE-C,
the limits, request metrics and billing."""

from __future__ import annotations

import base64
import bz2
import gzip
import hashlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore import serialize
from botocore.eventstream import EventStreamBuffer

from andromede.billing.model import parse_month
from andromede.billing.service import BillingService
from andromede.billing.store import MemoryBillingStore
from andromede.s3_request_metrics import S3RequestMetrics
from andromede.storage.store_memory import MemoryMetadataStore
from support.s3app import REGION, Client, Reply, in_process_client
from unit.s3.test_request_metrics import Clock, Writer, counters

_MODEL = botocore.session.get_session().get_service_model("s3")
B = "/tables"
PEOPLE = b'name,age,city\nAlice,30,Paris\nBob,25,Lyon\n"Smith, J",41,Nice\n'
LINES = b'{"n":"a","v":1}\n{"n":"b","v":5}\n{"n":"c","v":9}\n'
CSV_IN: dict[str, Any] = {"CSV": {"FileHeaderInfo": "USE"}}
CSV_OUT: dict[str, Any] = {"CSV": {}}


def select_body(
    expression: str, inputs: dict[str, Any], outputs: dict[str, Any], **more: Any
) -> bytes:
    """The body boto3's ``select_object_content`` sends."""
    operation = _MODEL.operation_model("SelectObjectContent")
    params = {
        "Bucket": "tables",
        "Key": "k",
        "Expression": expression,
        "ExpressionType": "SQL",
        "InputSerialization": inputs,
        "OutputSerialization": outputs,
        **more,
    }
    request = serialize.create_serializer("rest-xml").serialize_to_request(params, operation)
    body = request["body"]
    return body if isinstance(body, bytes) else body.encode()


async def select(
    client: Client,
    key: str,
    expression: str,
    inputs: dict[str, Any] | None = None,
    outputs: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
    **more: Any,
) -> Reply:
    body = select_body(expression, inputs or CSV_IN, outputs or CSV_OUT, **more)
    return await client.request("POST", f"{B}/{key}?select&select-type=2", body, headers=headers)


def events(reply: Reply) -> list[tuple[str, bytes]]:
    """(event type or error code, payload) of each message, decoded by botocore."""
    assert reply.status == 200, reply.body
    assert reply.headers["content-type"] == "application/octet-stream"
    buffer = EventStreamBuffer()
    buffer.add_data(reply.body)
    made = []
    for message in buffer:
        headers = message.headers
        kind = headers.get(":event-type") or f"error:{headers[':error-code']}"
        made.append((str(kind), bytes(message.payload)))
    return made


def records(reply: Reply) -> bytes:
    found = events(reply)
    assert found[-1][0] == "End" and found[-2][0] == "Stats"
    return b"".join(payload for kind, payload in found if kind == "Records")


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[Client]:
    async with in_process_client(tmp_path, allow_insecure_sse=True) as made:
        assert (await made.request("PUT", B)).status == 200
        assert (await made.request("PUT", f"{B}/people.csv", PEOPLE)).status == 200
        assert (await made.request("PUT", f"{B}/lines.json", LINES)).status == 200
        yield made


async def test_csv_with_a_header_and_a_where_clause(client: Client) -> None:
    reply = await select(
        client, "people.csv", "SELECT s.name, s.city FROM S3Object s WHERE CAST(s.age AS INT) > 26"
    )
    assert records(reply) == b'Alice,Paris\n"Smith, J",Nice\n'
    stats = dict(events(reply))["Stats"]
    assert b"<BytesScanned>%d</BytesScanned>" % len(PEOPLE) in stats
    assert b"<BytesReturned>28</BytesReturned>" in stats


async def test_json_lines_into_json_and_aggregates(client: Client) -> None:
    reply = await select(
        client,
        "lines.json",
        "SELECT s.n FROM S3Object s WHERE s.v >= 5",
        {"JSON": {"Type": "LINES"}},
        {"JSON": {}},
    )
    assert records(reply) == b'{"n":"b"}\n{"n":"c"}\n'
    reply = await select(
        client,
        "lines.json",
        "SELECT COUNT(*), SUM(s.v), MAX(s.n) FROM S3Object s",
        {"JSON": {"Type": "LINES"}},
    )
    assert records(reply) == b"3,15,c\n"


async def test_compressed_objects_are_read_as_they_inflate(client: Client) -> None:
    assert (await client.request("PUT", f"{B}/p.csv.gz", gzip.compress(PEOPLE))).status == 200
    assert (await client.request("PUT", f"{B}/p.csv.bz2", bz2.compress(PEOPLE))).status == 200
    for key, kind in (("p.csv.gz", "GZIP"), ("p.csv.bz2", "BZIP2")):
        reply = await select(
            client,
            key,
            "SELECT _1 FROM S3Object LIMIT 2",
            {"CSV": {"FileHeaderInfo": "IGNORE"}, "CompressionType": kind},
        )
        assert records(reply) == b"Alice\nBob\n"
    reply = await select(
        client, "people.csv", "SELECT * FROM S3Object", {**CSV_IN, "CompressionType": "GZIP"}
    )
    assert reply.status == 400 and reply.error_code() == "InvalidCompressionFormat"


async def test_a_scan_range_takes_the_records_that_start_in_it(client: Client) -> None:
    # Alice's record is bytes 14-28, Bob's 29-40: a range from 20 to 35 holds Bob's start.
    reply = await select(
        client, "people.csv", "SELECT s.name FROM S3Object s", ScanRange={"Start": 20, "End": 35}
    )
    assert records(reply) == b"Bob\n"


async def test_bad_requests_are_answered_400_before_any_event(client: Client) -> None:
    cases = [
        ("SELECT FROM S3Object", "ParseUnexpectedToken"),
        ("SELECT s.name FROM S3Object s WHERE s.name LIKE", "ParseExpectedExpression"),
        ("SELECT s.a..b FROM S3Object s", "ParseInvalidPathComponent"),
        ("SELECT _0 FROM S3Object", "InvalidColumnIndex"),
        ("SELECT CAST(s.name AS INT) FROM S3Object s", "CastFailed"),
        ("SELECT * FROM S3Object ORDER BY name", "UnsupportedSyntax"),
    ]
    for expression, code in cases:
        reply = await select(client, "people.csv", expression)
        assert reply.status == 400, expression
        assert reply.error_code() == code, expression
    missing = await select(client, "nothing.csv", "SELECT * FROM S3Object")
    assert missing.status == 404 and missing.error_code() == "NoSuchKey"


async def test_an_error_after_output_began_is_an_error_event(tmp_path: Path) -> None:
    async with in_process_client(tmp_path / "e") as client:
        assert (await client.request("PUT", B)).status == 200
        good = b"".join(b"%d,row\n" % n for n in range(300000))  # read in several chunks
        assert (await client.request("PUT", f"{B}/k", good + b"x,row\n")).status == 200
        reply = await select(
            client, "k", "SELECT _2 FROM S3Object WHERE CAST(_1 AS INT) >= 0", {"CSV": {}}
        )
        found = events(reply)
        assert found[0][0] == "Records"
        assert found[-1][0] == "error:CastFailed"
        assert all(kind != "End" for kind, _ in found)


async def test_the_expression_and_record_sizes_are_settings(tmp_path: Path) -> None:
    async with in_process_client(
        tmp_path / "s", select_max_expression_size=64, select_max_record_size=32
    ) as client:
        assert (await client.request("PUT", B)).status == 200
        assert (await client.request("PUT", f"{B}/k", PEOPLE + b"y" * 40 + b"\n")).status == 200
        long = "SELECT s.name FROM S3Object s WHERE s.name = '" + "x" * 40 + "'"
        reply = await select(client, "k", long)
        assert reply.status == 400 and reply.error_code() == "ExpressionTooLong"
        reply = await select(client, "k", "SELECT * FROM S3Object")
        assert reply.status == 400 and reply.error_code() == "OverMaxRecordSize"
        reply = await select(client, "k", "SELECT * FROM S3Object LIMIT 2")
        assert records(reply) == b"Alice,30,Paris\nBob,25,Lyon\n"


async def test_reading_needs_get_object_and_ssec_needs_its_key(client: Client) -> None:
    user = await client.iam_user("reader")
    reply = await select(user, "people.csv", "SELECT * FROM S3Object")
    assert reply.status == 403 and reply.error_code() == "AccessDenied"
    key = b"k" * 32
    sse = {
        "x-amz-server-side-encryption-customer-algorithm": "AES256",
        "x-amz-server-side-encryption-customer-key": base64.b64encode(key).decode(),
        "x-amz-server-side-encryption-customer-key-md5": base64.b64encode(
            hashlib.md5(key, usedforsecurity=False).digest()
        ).decode(),
    }
    put = await client.request("PUT", f"{B}/secret.csv", PEOPLE, headers=sse)
    assert put.status == 200, put.body
    refused = await select(client, "secret.csv", "SELECT * FROM S3Object")
    assert refused.status == 400
    reply = await select(client, "secret.csv", "SELECT s.name FROM S3Object s LIMIT 1", headers=sse)
    assert records(reply) == b"Alice\n"


async def test_a_select_is_a_read_audited_as_getobject_is(client: Client) -> None:
    await client.audit.flush()
    before = await client.audit_store.list_events(None, after_id=0, limit=100)
    reply = await select(client, "people.csv", "SELECT COUNT(*) FROM S3Object s")
    assert records(reply) == b"3\n"
    await client.audit.flush()
    after = await client.audit_store.list_events(None, after_id=0, limit=100)
    assert len(after) == len(before)  # a read: no event while data reads are not logged
    assert client.objects is not None
    await client.objects.set_bucket_data_reads_logged("tables", True)
    reply = await select(client, "people.csv", "SELECT COUNT(*) FROM S3Object s")
    assert records(reply) == b"3\n"
    await client.audit.flush()
    logged = [e for _, e in await client.audit_store.list_events(None, after_id=0, limit=100)]
    assert logged[-1].action == "s3:GetObject"
    assert logged[-1].details.get("operation") == "SelectObjectContent"


async def test_selects_are_billed_by_their_scanned_and_returned_bytes(tmp_path: Path) -> None:
    billing = BillingService(MemoryBillingStore(), region=REGION, instance_types=[])
    async with in_process_client(tmp_path / "b", billing=billing) as client:
        assert (await client.request("PUT", B)).status == 200
        assert (await client.request("PUT", f"{B}/k", PEOPLE)).status == 200
        reply = await select(client, "k", "SELECT s.name FROM S3Object s")
        assert records(reply) == b'Alice\nBob\n"Smith, J"\n'
        await billing.flush()
        month = parse_month(datetime.now(UTC).strftime("%Y-%m"))
        report = await billing.usage_report(client.tenant_id, month)
        used = {line.meter: line.quantity for line in report.lines}
        assert used["s3.select.scanned"] == len(PEOPLE)
        assert used["s3.select.returned"] == len(b'Alice\nBob\n"Smith, J"\n')
        assert used["s3.requests.class-b"] == 1  # the select; the two PUTs are class A


async def test_selects_count_in_the_request_metrics(tmp_path: Path) -> None:
    writer, clock = Writer(), Clock()
    made: list[S3RequestMetrics] = []

    def hook(store: MemoryMetadataStore) -> S3RequestMetrics:
        made.append(counters(store, writer, clock))
        return made[0]

    async with in_process_client(tmp_path / "m", request_metrics=hook) as client:
        assert (await client.request("PUT", "/shop")).status == 200
        config = (
            b'<MetricsConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
            b"<Id>all</Id></MetricsConfiguration>"
        )
        assert (await client.request("PUT", "/shop?metrics&id=all", config)).status == 200
        assert (await client.request("PUT", "/shop/k", PEOPLE)).status == 200
        await made[0].flush()
        writer.points.clear()
        body = select_body("SELECT s.name FROM S3Object s", CSV_IN, CSV_OUT)
        reply = await client.request("POST", "/shop/k?select&select-type=2", body)
        assert records(reply) == b'Alice\nBob\n"Smith, J"\n'
        await made[0].flush()
    assert writer.value("SelectRequests", "all")[0] == 1.0
    assert writer.value("PostRequests", "all") == (0.0, 0.0)
    assert writer.value("SelectBytesScanned", "all")[0] == len(PEOPLE)
    assert writer.value("SelectBytesReturned", "all")[0] == len(b'Alice\nBob\n"Smith, J"\n')


def _parquet(rows: int) -> bytes:
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    sink = io.BytesIO()
    table = pa.table({"id": list(range(rows)), "city": ["Paris", "Lyon"] * (rows // 2)})
    pq.write_table(table, sink, row_group_size=100)
    return sink.getvalue()


async def test_parquet_objects_are_read_through_their_ranges(tmp_path: Path) -> None:
    async with in_process_client(tmp_path / "p") as client:
        assert (await client.request("PUT", B)).status == 200
        assert (await client.request("PUT", f"{B}/t.parquet", _parquet(1000))).status == 200
        parquet: dict[str, Any] = {"Parquet": {}}
        reply = await select(
            client,
            "t.parquet",
            "SELECT COUNT(*) FROM S3Object s WHERE s.city = 'Lyon' AND s.id < 10",
            parquet,
        )
        assert records(reply) == b"5\n"
        reply = await select(
            client, "t.parquet", "SELECT * FROM S3Object", {**parquet, "CompressionType": "GZIP"}
        )
        assert reply.status == 400 and reply.error_code() == "InvalidCompressionFormat"
        # A range that starts after the first row group's start: the other groups only.
        reply = await select(
            client, "t.parquet", "SELECT COUNT(*) FROM S3Object", parquet, ScanRange={"Start": 5}
        )
        assert records(reply) == b"900\n"
    # pyarrow reads the footer's last 64 KiB at once: past select_parquet_max_read, refused.
    async with in_process_client(tmp_path / "q", select_parquet_max_read=512) as client:
        assert (await client.request("PUT", B)).status == 200
        assert (await client.request("PUT", f"{B}/t.parquet", _parquet(1000))).status == 200
        reply = await select(client, "t.parquet", "SELECT * FROM S3Object", {"Parquet": {}})
        assert reply.status == 400 and reply.error_code() == "OverMaxRecordSize"


async def test_delimiters_and_quotes_as_botocore_sends_them(client: Client) -> None:
    """``\\r\\n`` survives the XML parser's line-end normalisation; tabs, quotes, comments."""
    table = b"id\tnote\r\n#skipped\r\n1\t'a\tb'\r\n2\tplain\r\n"
    assert (await client.request("PUT", f"{B}/t.tsv", table)).status == 200
    reply = await select(
        client,
        "t.tsv",
        "SELECT s.id, s.note FROM S3Object s",
        {
            "CSV": {
                "FileHeaderInfo": "USE",
                "RecordDelimiter": "\r\n",
                "FieldDelimiter": "\t",
                "QuoteCharacter": "'",
                "Comments": "#",
            }
        },
        {"CSV": {"QuoteFields": "ALWAYS", "RecordDelimiter": "\r\n", "FieldDelimiter": ";"}},
    )
    assert records(reply) == b'"1";"a\tb"\r\n"2";"plain"\r\n'


async def test_a_store_failure_mid_scan_ends_the_stream_with_s3s_error() -> None:
    from andromede.s3.handlers.select import _refused_before_output
    from andromede.s3select import eventstream
    from andromede.storage.errors import BlobStoreUnavailable

    async def failing() -> AsyncIterator[bytes]:
        yield eventstream.records(b"a\n")
        raise BlobStoreUnavailable("down")

    raw = b"".join([message async for message in _refused_before_output(failing())])
    buffer = EventStreamBuffer()
    buffer.add_data(raw)
    found = [dict(message.headers) for message in buffer]
    assert found[0][":event-type"] == "Records"
    assert found[1][":message-type"] == "error"
    assert found[1][":error-code"] == "ServiceUnavailable"
