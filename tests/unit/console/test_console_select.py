"""An object's page and S3 Select in the console (decisions 0234 and 0244): the object's facts
from HEAD, "Query with S3 Select" over CSV with its header, JSON lines and their output as
CSV or JSON, the records shown escaped and bounded by ``console_select_max_output`` (the page
says how much was cut), the Stats counts; S3's Select errors (refused before the stream, or
met while it ran) shown in its words with the form as typed; a user S3 refuses sees its
refusal; CSV delimiters, quote and ScanRange from the form; the event stream's framing
read back as ``s3select.eventstream`` writes it."""

from __future__ import annotations

import json
from html import unescape
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from andromede.console.wire import S3Wire, WireError
from andromede.console.wire_select import EventStreamReader, SelectForm, SelectResult, select
from andromede.iam.model import Principal, PrincipalKind
from andromede.s3select import eventstream
from andromede.settings import Settings
from support.console import ConsoleHarness, console_harness, csrf, csrf_of, log_in, sign_in_root

_PEOPLE = b"name,age,city\nAnn,34,Lyon\nBob,27,Nantes\n<Cy>,41,Paris\n"


def alert(page: httpx.Response) -> str:
    return unescape(page.text.split('role="alert">', 1)[1].split("</p>", 1)[0])


def records(page: httpx.Response) -> str:
    return unescape(page.text.split('<pre id="select-records">', 1)[1].split("</pre>", 1)[0])


async def _bucket_with(client: httpx.AsyncClient, token: str, key: str, body: bytes) -> None:
    made = await client.post("/buckets", data={"csrf": token, "name": "data",
                                               "region": "eu-fr-1"})  # fmt: skip
    assert made.status_code == 303
    uploaded = await client.post(
        "/buckets/data/upload",
        data={"csrf": token, "prefix": ""},
        files={"file": (key, body, "text/csv")},
    )
    assert uploaded.status_code == 303, uploaded.text


async def test_an_objects_page_runs_s3_select(console: ConsoleHarness) -> None:
    async with console.client() as client:
        await sign_in_root(console, client)
        token = await csrf(client)
        await _bucket_with(client, token, "people.csv", _PEOPLE)
        listed = await client.get("/buckets/data")
        assert 'href="/console/buckets/data/object?key=people.csv"' in listed.text
        page = await client.get("/buckets/data/object", params={"key": "people.csv"})
        assert page.status_code == 200
        assert f'<td id="object-size">{len(_PEOPLE)}</td>' in page.text
        assert "SELECT * FROM s3object s LIMIT 10" in page.text

        asked = {"csrf": token, "key": "people.csv", "input": "CSV", "csv_header": "USE",
                 "compression": "NONE", "output": "JSON",
                 "expression": "SELECT s.name, s.city FROM s3object s "
                               "WHERE CAST(s.age AS INT) > 30"}  # fmt: skip
        ran = await client.post("/buckets/data/select", data=asked)
        assert ran.status_code == 200, ran.text
        lines = [json.loads(line) for line in records(ran).splitlines()]
        assert lines == [{"name": "Ann", "city": "Lyon"}, {"name": "<Cy>", "city": "Paris"}]
        assert "&lt;Cy&gt;" in ran.text  # escaped, never markup
        assert 'id="select-stats">Scanned ' in ran.text and 'id="select-cut"' not in ran.text
        assert "WHERE CAST(s.age AS INT) &gt; 30</textarea>" in ran.text  # the form as typed

        as_csv = await client.post("/buckets/data/select", data=asked | {"output": "CSV"})
        assert records(as_csv) == "Ann,Lyon\n<Cy>,Paris\n"
        none = await client.post(
            "/buckets/data/select",
            data=asked | {"expression": "SELECT * FROM s3object s WHERE s.city = 'Rome'"},
        )
        assert none.status_code == 200 and 'id="select-none"' in none.text

        # S3's refusals in its words, with the form as typed.
        bad_sql = await client.post("/buckets/data/select",
                                    data=asked | {"expression": "SELEKT nothing"})  # fmt: skip
        assert bad_sql.status_code == 400 and "(Parse" in alert(bad_sql)
        assert ">SELEKT nothing</textarea>" in bad_sql.text
        mid_scan = await client.post(
            "/buckets/data/select",
            data=asked | {"expression": "SELECT CAST(s.city AS INT) FROM s3object s"},
        )
        assert mid_scan.status_code == 400 and "(CastFailed)" in alert(mid_scan)
        gone = await client.post("/buckets/data/select", data=asked | {"key": "none.csv"})
        assert gone.status_code == 404 and "(NoSuchKey)" in alert(gone)
        forged = await client.post("/buckets/data/select", data=asked | {"csrf": "forged"})
        assert forged.status_code == 403

        french = await client.get("/buckets/data/object", params={"key": "people.csv"},
                                  headers={"accept-language": "fr"})  # fmt: skip
        assert "Interroger avec S3 Select" in french.text


async def test_json_lines_and_the_bound_on_records_shown(tmp_path: Path) -> None:
    async with (
        console_harness(tmp_path, console_select_max_output=1024) as console,
        console.client() as client,
    ):
        await sign_in_root(console, client)
        token = await csrf(client)
        body = b"".join(b'{"n": %d, "pad": "%s"}\n' % (n, b"x" * 40) for n in range(200))
        await _bucket_with(client, token, "lines.json", body)
        asked = {"csrf": token, "key": "lines.json", "input": "JSON_LINES",
                 "compression": "NONE", "output": "JSON",
                 "expression": "SELECT s.n, s.pad FROM s3object s"}  # fmt: skip
        ran = await client.post("/buckets/data/select", data=asked)
        assert ran.status_code == 200, ran.text
        shown = records(ran)
        assert len(shown.encode()) == 1024 and shown.startswith('{"n":0,')
        cut = ran.text.split('id="select-cut">', 1)[1].split(" ", 1)[0]
        assert int(cut) > 5000 and "add a LIMIT" in ran.text


async def test_csv_delimiters_quote_and_scan_range_from_the_form(
    console: ConsoleHarness,
) -> None:
    async with console.client() as client:
        await sign_in_root(console, client)
        token = await csrf(client)
        body = b"name;note|'Ann';'a;b'|Bob;two\nlines|Cy;c|"
        await _bucket_with(client, token, "semi.csv", body)
        asked = {"csrf": token, "key": "semi.csv", "input": "CSV", "csv_header": "USE",
                 "compression": "NONE", "output": "JSON", "field_delimiter": ";",
                 "quote": "'", "record_delimiter": "|",
                 "expression": "SELECT s.name, s.note FROM s3object s"}  # fmt: skip
        ran = await client.post("/buckets/data/select", data=asked)
        assert records(ran) == (
            '{"name":"Ann","note":"a;b"}\n{"name":"Bob","note":"two\\nlines"}\n'
            '{"name":"Cy","note":"c"}\n'
        )
        assert 'name="record_delimiter" size="4" maxlength="4" value="|"' in ran.text
        ranged = await client.post(
            "/buckets/data/select",
            data=asked | {"expression": "SELECT s.note FROM s3object s",
                          "scan_start": str(body.index(b"Bob")), "scan_end": ""},
        )  # fmt: skip
        assert records(ranged) == '{"note":"two\\nlines"}\n{"note":"c"}\n'
        start = body.index(b"Bob")
        assert f'name="scan_start" type="number" min="0" value="{start}"' in ranged.text


def test_the_forms_csv_options_and_scan_range_in_the_request() -> None:
    form = SelectForm.from_fields(
        {"expression": "SELECT 1", "field_delimiter": "\\t", "quote": "'",
         "record_delimiter": "\\r\\n", "scan_start": " 10 ", "scan_end": "99"}
    )  # fmt: skip
    xml = form.request_xml().decode()
    assert "<FieldDelimiter>\t</FieldDelimiter><QuoteCharacter>'</QuoteCharacter>" in xml
    assert "<RecordDelimiter>\r\n</RecordDelimiter>" in xml
    assert "<ScanRange><Start>10</Start><End>99</End></ScanRange>" in xml
    plain = SelectForm.from_fields({"expression": "SELECT 1"}).request_xml().decode()
    assert "ScanRange" not in plain and "Delimiter" not in plain


async def test_a_user_s3_refuses_sees_its_refusal(console: ConsoleHarness) -> None:
    async with console.client() as client:
        await sign_in_root(console, client)
        await _bucket_with(client, await csrf(client), "people.csv", _PEOPLE)
    await console.user_with_password(console.admin_tenant_id, "reader")
    async with console.client() as client:
        assert (await log_in(client, "admin", "reader")).status_code == 303
        page = await client.get("/buckets/data/object", params={"key": "people.csv"})
        assert page.status_code == 403 and "(AccessDenied)" in alert(page)
        ran = await client.post(
            "/buckets/data/select",
            data={"csrf": csrf_of(page), "key": "people.csv", "input": "CSV",
                  "expression": "SELECT * FROM s3object"},
        )  # fmt: skip
        assert ran.status_code == 403 and "(AccessDenied)" in alert(ran)


def test_the_event_stream_read_back_a_byte_at_a_time() -> None:
    stream = (
        eventstream.records(b"a,1\n")
        + eventstream.cont()
        + eventstream.records(b"b,2\n")
        + eventstream.stats(10, 10, 8)
        + eventstream.end()
    )
    reader = EventStreamReader()
    messages = [m for byte in stream for m in reader.feed(bytes([byte]))]
    assert not reader.pending
    assert [h[":event-type"] for h, _ in messages] == ["Records", "Cont", "Records", "Stats", "End"]
    assert messages[0][1] + messages[2][1] == b"a,1\nb,2\n"
    failed = EventStreamReader().feed(eventstream.error("CastFailed", "no"))
    assert failed[0][0] == {
        ":message-type": "error",
        ":error-code": "CastFailed",
        ":error-message": "no",
    }


@pytest.mark.parametrize("flip", [5, 20, -2])
def test_a_broken_event_stream_is_refused(flip: int) -> None:
    framed = bytearray(eventstream.records(b"payload"))
    framed[flip] ^= 0xFF
    with pytest.raises(WireError, match="could not be read") as refused:
        EventStreamReader().feed(bytes(framed))
    assert refused.value.code == "InternalError"


def _answering(*chunks: bytes) -> Any:
    """An S3 app that answers any call 200 with these event-stream chunks."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for chunk in chunks:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    return app


async def _select_from(app: Any) -> SelectResult:
    scope = {"client": ("127.0.0.1", 1), "server": ("127.0.0.1", 9001), "scheme": "http"}
    root = "arn:aws:iam::000000000000:root"
    principal = Principal("000000000000", None, None, PrincipalKind.ROOT, root)
    return await select(S3Wire(app), scope, principal, "data", "k.csv",
                        SelectForm("SELECT * FROM s3object"), max_output=4)  # fmt: skip


async def test_an_error_met_while_the_scan_ran_is_s3s_refusal() -> None:
    done = await _select_from(_answering(eventstream.records(b"a,1\nb,2\n"), eventstream.end()))
    assert (done.text, done.cut_bytes, done.ended) == ("a,1\n", 4, True)
    with pytest.raises(WireError) as failed:
        await _select_from(
            _answering(eventstream.records(b"a,1\n"), eventstream.error("CastFailed", "Bad cast."))
        )
    assert (failed.value.code, failed.value.message) == ("CastFailed", "Bad cast.")
    with pytest.raises(WireError, match="before its End event"):
        await _select_from(_answering(eventstream.records(b"a,1\n")))


@pytest.mark.parametrize("bound", [1023, 8 * 1024 * 1024 + 1])
def test_console_select_max_output_is_bounded(bound: int) -> None:
    with pytest.raises(ValidationError, match="console_select_max_output"):
        Settings(console_select_max_output=bound)
    assert Settings().console_select_max_output == 256 * 1024
