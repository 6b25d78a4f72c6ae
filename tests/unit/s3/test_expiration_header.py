"""``x-amz-expiration`` in process (decision 0086): on PUT, GET, HEAD, CopyObject and
CompleteMultipartUpload when an enabled rule will expire the object, in S3's form, by the same
selection and due dates as the pass (a test runs both over one set of rules and objects); the
process's view of the rules, changed at once by its own calls and re-read from the store for
another's; and no store read for a bucket without rules."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import unquote

import pytest

from andromede.http.dates import http_date, parse_http_date
from andromede.s3.handlers.lifecycle import expiration_header
from andromede.storage.expiration_view import ExpirationView
from andromede.storage.lifecycle import (
    LIFECYCLE_DOCUMENT,
    Expiry,
    LifecycleConfiguration,
    LifecycleRule,
    due_at,
    earliest_expiry,
)
from andromede.storage.lifecycle_runner import LifecycleAction
from andromede.storage.model import ObjectRecord
from andromede.storage.store_memory import MemoryMetadataStore
from support.s3app import Client, Reply, in_process_client
from unit.s3.test_lifecycle import Clock, keys, md5_header, put_lifecycle, rule, runner

B = "/logs"
HEADER = "x-amz-expiration"
_FORM = re.compile(
    r'expiry-date="((?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), [0-9]{2} '
    r'(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [0-9]{4} 00:00:00 GMT)", '
    r'rule-id="([^"]*)"'
)


def days(n: int) -> str:
    return f"<Expiration><Days>{n}</Days></Expiration>"


def date(moment: datetime) -> str:
    return f"<Expiration><Date>{moment.strftime('%Y-%m-%dT00:00:00.000Z')}</Date></Expiration>"


def expiry_of(reply: Reply) -> tuple[datetime, str] | None:
    """The header's date and (decoded) rule ID, its form checked; None when absent."""
    value = reply.headers.get(HEADER)
    if value is None:
        return None
    found = _FORM.fullmatch(value)
    assert found is not None, value
    moment = parse_http_date(found[1])
    assert moment is not None
    return moment, unquote(found[2])


async def stored(client: Client, key: str) -> ObjectRecord:
    assert client.objects is not None
    return await client.objects.head_object("logs", key)


def header_for(record: ObjectRecord, days_after: int, rule_id: str) -> str:
    return (
        f'expiry-date="{http_date(due_at(record.last_modified, days_after))}", rule-id="{rule_id}"'
    )


async def complete_upload(client: Client, key: str, headers: dict[str, str] | None = None) -> Reply:
    started = await client.request("POST", f"{B}/{key}?uploads", headers=headers)
    assert started.status == 200, started.body
    upload_id = started.body.split(b"<UploadId>")[1].split(b"</UploadId>")[0].decode()
    part = await client.request("PUT", f"{B}/{key}?partNumber=1&uploadId={upload_id}", b"x" * 20)
    assert part.status == 200
    body = (
        "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber>"
        f"<ETag>{part.headers['etag']}</ETag></Part></CompleteMultipartUpload>"
    ).encode()
    done = await client.request("POST", f"{B}/{key}?uploadId={upload_id}", body)
    assert done.status == 200, done.body
    return done


async def put(client: Client, key: str, body: bytes = b"x", tags: str | None = None) -> Reply:
    reply = await client.request("PUT", f"{B}/{key}", body, {"x-amz-tagging": tags} if tags else {})
    assert reply.status == 200, reply.body
    return reply


async def answers(client: Client, key: str) -> list[str | None]:
    """The header on HEAD, GET and a ranged GET of ``key``."""
    head = await client.request("HEAD", f"{B}/{key}")
    get = await client.request("GET", f"{B}/{key}")
    ranged = await client.request("GET", f"{B}/{key}", headers={"Range": "bytes=0-0"})
    assert (head.status, get.status, ranged.status) == (200, 200, 206)
    return [reply.headers.get(HEADER) for reply in (head, get, ranged)]


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[Client]:
    async with in_process_client(tmp_path) as made:
        assert (await made.request("PUT", B)).status == 200
        yield made


# -- where and in what form -------------------------------------------------------------------


async def test_put_get_head_copy_and_completion_answer_it(client: Client) -> None:
    await put_lifecycle(client, rule("<Filter/>" + days(3), rule_id="three-days"))
    written = await put(client, "a")
    expected = header_for(await stored(client, "a"), 3, "three-days")
    assert written.headers[HEADER] == expected
    assert await answers(client, "a") == [expected] * 3
    copied = await client.request("PUT", f"{B}/b", headers={"x-amz-copy-source": "/logs/a"})
    assert copied.status == 200, copied.body
    assert copied.headers[HEADER] == header_for(await stored(client, "b"), 3, "three-days")
    completed = await complete_upload(client, "c")
    assert completed.headers[HEADER] == header_for(await stored(client, "c"), 3, "three-days")
    # Not on the other answers: a listing, a delete, a new upload (which has x-amz-abort-date).
    for method, path in (
        ("GET", f"{B}?list-type=2"),
        ("DELETE", f"{B}/a"),
        ("POST", f"{B}/d?uploads"),
    ):
        assert HEADER not in (await client.request(method, path)).headers


async def test_its_form_is_s3s_with_the_rule_id_url_encoded(client: Client) -> None:
    await put_lifecycle(
        client,
        rule("<Filter/>" + date(datetime(2031, 1, 1, tzinfo=UTC)), rule_id='keep "30" days/ü'),
    )
    assert (await put(client, "a")).headers[HEADER] == (
        'expiry-date="Wed, 01 Jan 2031 00:00:00 GMT", rule-id="keep%20%2230%22%20days%2F%C3%BC"'
    )
    # A rule put without an ID is answered with an empty one.
    await put_lifecycle(client, rule("<Filter/>" + days(1), rule_id=None))
    assert (await put(client, "a")).headers[HEADER].endswith('rule-id=""')


def test_days_round_up_to_the_next_midnight_utc_and_a_date_is_as_given() -> None:
    rules = (LifecycleRule("d", True, expiration_days=1),)
    late = datetime(2030, 3, 4, 23, 59, 59, tzinfo=UTC)
    midnight = datetime(2030, 3, 4, tzinfo=UTC)
    for written, due in ((late, "Wed, 06 Mar 2030"), (midnight, "Tue, 05 Mar 2030")):
        found = earliest_expiry(rules, "k", 1, written, ())
        assert found is not None
        assert expiration_header(found) == f'expiry-date="{due} 00:00:00 GMT", rule-id="d"'
    dated = (LifecycleRule("on", True, expiration_date=datetime(2029, 7, 1, tzinfo=UTC)),)
    found = earliest_expiry(dated, "k", 1, late, ())
    assert found == Expiry(datetime(2029, 7, 1, tzinfo=UTC), "on")


async def test_days_count_from_the_last_modification(client: Client) -> None:
    await put_lifecycle(client, rule("<Filter/>" + days(1)))
    found = expiry_of(await put(client, "a"))
    assert found is not None
    modified = (await stored(client, "a")).last_modified
    assert found[0] == due_at(modified, 1)
    assert (found[0].hour, found[0].minute, found[0].second) == (0, 0, 0)
    assert modified + timedelta(days=1) <= found[0] < modified + timedelta(days=2)


async def test_the_earliest_of_several_rules_is_answered(client: Client) -> None:
    tomorrow = datetime.now(UTC) + timedelta(days=1)
    await put_lifecycle(
        client,
        rule("<Filter/>" + days(10), rule_id="ten"),
        rule("<Filter/>" + days(2), rule_id="two"),
        rule("<Filter/>" + days(2), rule_id="two-again"),  # as early: the first one is named
        rule("<Filter/>" + days(1), rule_id="off", status="Disabled"),
        rule("<Filter/>" + date(datetime(2040, 1, 1, tzinfo=UTC)), rule_id="far"),
    )
    found = expiry_of(await put(client, "a"))
    assert found is not None and found[1] == "two"
    await put_lifecycle(
        client,
        rule("<Filter/>" + days(2), rule_id="two"),
        rule("<Filter/>" + date(tomorrow), rule_id="tomorrow"),
    )
    found = expiry_of(await put(client, "a"))
    assert found is not None
    assert found == (tomorrow.replace(hour=0, minute=0, second=0, microsecond=0), "tomorrow")


# -- which objects ------------------------------------------------------------------------------


TAG = "<Tag><Key>keep</Key><Value>no</Value></Tag>"
GREATER = "<ObjectSizeGreaterThan>10</ObjectSizeGreaterThan>"


@pytest.mark.parametrize(
    ("selection", "key", "size", "tags", "selected"),
    [
        ("<Filter><Prefix>tmp/</Prefix></Filter>", "tmp/a", 1, None, True),
        ("<Filter><Prefix>tmp/</Prefix></Filter>", "home/a", 1, None, False),
        ("<Prefix>tmp/</Prefix>", "tmp/a", 1, None, True),  # the older top-level prefix
        ("<Prefix>tmp/</Prefix>", "tm/a", 1, None, False),
        (f"<Filter>{TAG}</Filter>", "a", 1, "keep=no", True),
        (f"<Filter>{TAG}</Filter>", "a", 1, "keep=no&other=x", True),
        (f"<Filter>{TAG}</Filter>", "a", 1, "keep=yes", False),
        (f"<Filter>{TAG}</Filter>", "a", 1, None, False),
        ("<Filter><ObjectSizeGreaterThan>10</ObjectSizeGreaterThan></Filter>", "a", 11, None, True),
        (
            "<Filter><ObjectSizeGreaterThan>10</ObjectSizeGreaterThan></Filter>",
            "a",
            10,
            None,
            False,
        ),
        ("<Filter><ObjectSizeLessThan>10</ObjectSizeLessThan></Filter>", "a", 9, None, True),
        ("<Filter><ObjectSizeLessThan>10</ObjectSizeLessThan></Filter>", "a", 10, None, False),
        *(
            (
                "<Filter><And><Prefix>tmp/</Prefix>"
                f"{TAG}<ObjectSizeGreaterThan>5</ObjectSizeGreaterThan></And></Filter>",
                key,
                size,
                tags,
                selected,
            )
            for key, size, tags, selected in (
                ("tmp/a", 6, "keep=no", True),
                ("home/a", 6, "keep=no", False),
                ("tmp/a", 5, "keep=no", False),
                ("tmp/a", 6, "keep=yes", False),
            )
        ),
    ],
)
async def test_a_rule_applies_by_its_filter(
    client: Client, selection: str, key: str, size: int, tags: str | None, selected: bool
) -> None:
    await put_lifecycle(client, rule(selection + days(4), rule_id="filtered"))
    written = await put(client, key, b"x" * size, tags)
    expected = header_for(await stored(client, key), 4, "filtered") if selected else None
    assert written.headers.get(HEADER) == expected
    assert await answers(client, key) == [expected] * 3


async def test_tags_are_those_written_or_stored(client: Client) -> None:
    await put_lifecycle(client, rule(f"<Filter>{TAG}</Filter>" + days(2)))
    assert HEADER in (await put(client, "a", tags="keep=no")).headers
    # Retagged: GET and HEAD read the tags from the object's opened headers.
    tagging = b"<Tagging><TagSet><Tag><Key>keep</Key><Value>yes</Value></Tag></TagSet></Tagging>"
    retagged = await client.request("PUT", f"{B}/a?tagging", tagging, md5_header(tagging))
    assert retagged.status == 200
    assert await answers(client, "a") == [None] * 3
    # A copy answers for the tags it writes: the source's, or the request's.
    source = {"x-amz-copy-source": "/logs/a"}
    kept = await client.request("PUT", f"{B}/b", headers=source)
    assert HEADER not in kept.headers
    replaced = await client.request(
        "PUT",
        f"{B}/c",
        headers={**source, "x-amz-tagging-directive": "REPLACE", "x-amz-tagging": "keep=no"},
    )
    assert HEADER in replaced.headers
    assert HEADER in (await client.request("HEAD", f"{B}/c")).headers
    # A completed upload has the tags it was started with.
    assert HEADER in (await complete_upload(client, "d", {"x-amz-tagging": "keep=no"})).headers
    assert HEADER not in (await complete_upload(client, "e")).headers


@pytest.mark.parametrize(
    "action",
    [
        pytest.param(days(1), id="disabled"),
        pytest.param(
            "<Expiration><ExpiredObjectDeleteMarker>true</ExpiredObjectDeleteMarker></Expiration>",
            id="delete-marker",
        ),
        pytest.param(
            "<NoncurrentVersionExpiration><NoncurrentDays>1</NoncurrentDays>"
            "</NoncurrentVersionExpiration>",
            id="noncurrent",
        ),
        pytest.param(
            "<AbortIncompleteMultipartUpload><DaysAfterInitiation>1</DaysAfterInitiation>"
            "</AbortIncompleteMultipartUpload>",
            id="abort",
        ),
    ],
)
async def test_rules_that_expire_no_object_give_no_header(client: Client, action: str) -> None:
    status = "Disabled" if action == days(1) else "Enabled"
    assert (await put_lifecycle(client, rule("<Filter/>" + action, status=status))).status == 200
    assert HEADER not in (await put(client, "a")).headers
    assert await answers(client, "a") == [None] * 3
    assert HEADER not in (await complete_upload(client, "b")).headers


# -- the view, and what it costs ----------------------------------------------------------------


async def test_requests_read_no_lifecycle_document(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Neither a bucket without a configuration nor one with rules reads the store for it:
    the view answers from memory."""
    assert client.store is not None

    async def no_read(*args: object) -> None:
        raise AssertionError("a request read a bucket document")

    monkeypatch.setattr(client.store, "get_bucket_document", no_read)
    monkeypatch.setattr(client.store, "list_bucket_documents", no_read)
    assert HEADER not in (await put(client, "a")).headers
    assert await answers(client, "a") == [None] * 3
    monkeypatch.undo()
    await put_lifecycle(client, rule("<Filter/>" + days(1)))
    monkeypatch.setattr(client.store, "get_bucket_document", no_read)
    monkeypatch.setattr(client.store, "list_bucket_documents", no_read)
    assert HEADER in (await put(client, "a")).headers
    assert None not in await answers(client, "a")


async def test_this_process_s_put_and_delete_take_effect_at_once(client: Client) -> None:
    await put(client, "a")
    assert await answers(client, "a") == [None] * 3
    await put_lifecycle(client, rule("<Filter/>" + days(1)))
    assert None not in await answers(client, "a")
    assert (await client.request("DELETE", f"{B}?lifecycle")).status == 204
    assert await answers(client, "a") == [None] * 3


async def test_a_deleted_bucket_s_rules_go_with_it(client: Client) -> None:
    await put_lifecycle(client, rule("<Filter/>" + days(1)))
    assert HEADER in (await put(client, "a")).headers
    assert (await client.request("DELETE", f"{B}/a")).status == 204
    assert (await client.request("DELETE", B)).status == 204
    assert (await client.request("PUT", B)).status == 200  # the name again, with no rules
    assert HEADER not in (await put(client, "a")).headers


async def test_a_refresh_picks_up_another_process_s_change(client: Client) -> None:
    assert client.store is not None and client.expirations is not None
    await put(client, "a")
    # Another gateway's PutBucketLifecycleConfiguration: in the store, not in this view yet.
    config = LifecycleConfiguration((LifecycleRule("elsewhere", True, expiration_days=5),))
    await client.store.put_bucket_document("logs", LIFECYCLE_DOCUMENT, config.to_text())
    assert await answers(client, "a") == [None] * 3
    await client.expirations.refresh()
    assert await answers(client, "a") == [header_for(await stored(client, "a"), 5, "elsewhere")] * 3
    # And its DeleteBucketLifecycle.
    await client.store.put_bucket_document("logs", LIFECYCLE_DOCUMENT, None)
    assert None not in await answers(client, "a")
    await client.expirations.refresh()
    assert await answers(client, "a") == [None] * 3


class _SlowListing(MemoryMetadataStore):
    """A store whose listing of documents waits, as a refresh's read of a large table does,
    while the test changes the configuration through this process."""

    def __init__(self, inner: MemoryMetadataStore) -> None:
        super().__init__()
        self.inner = inner
        self.listed = asyncio.Event()
        self.go_on = asyncio.Event()

    async def list_bucket_documents(
        self, kind: str, after: str | None, limit: int
    ) -> list[tuple[str, str]]:
        page = await self.inner.list_bucket_documents(kind, after, limit)
        self.listed.set()
        await self.go_on.wait()
        return page


async def test_a_change_made_during_a_refresh_outlives_it(client: Client) -> None:
    assert client.store is not None
    await put(client, "a")
    record = await stored(client, "a")
    store = _SlowListing(client.store)
    view = ExpirationView(store, period=3600)
    refreshing = asyncio.create_task(view.refresh())
    await store.listed.wait()  # the read found no configuration...
    config = LifecycleConfiguration((LifecycleRule("r", True, expiration_days=1),))
    await client.store.put_bucket_document("logs", LIFECYCLE_DOCUMENT, config.to_text())
    view.configured("logs", config)  # ...and this process put one meanwhile
    store.go_on.set()
    await refreshing
    assert view.expiry(record) == Expiry(due_at(record.last_modified, 1), "r")


async def test_the_view_refreshes_every_period(client: Client) -> None:
    assert client.store is not None
    await put(client, "a")
    record = await stored(client, "a")
    view = ExpirationView(client.store, period=0.01)
    running = asyncio.create_task(view.run_forever())
    try:
        config = LifecycleConfiguration((LifecycleRule("r", True, expiration_days=1),))
        await client.store.put_bucket_document("logs", LIFECYCLE_DOCUMENT, config.to_text())
        for _ in range(500):
            if view.expiry(record) is not None:
                break
            await asyncio.sleep(0.01)
        assert view.expiry(record) == Expiry(due_at(record.last_modified, 1), "r")
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running


# -- the header and the pass agree ----------------------------------------------------------------


async def test_the_header_and_the_pass_agree(client: Client) -> None:
    """Every object expires at the very moment its header named, under the rule it named, and
    the objects without a header are never expired."""
    in_five_days = datetime.now(UTC) + timedelta(days=5)
    await put_lifecycle(
        client,
        rule("<Filter><Prefix>tmp/</Prefix></Filter>" + days(3), rule_id="tmp"),
        rule(
            "<Filter><And><Prefix>tmp/</Prefix><ObjectSizeLessThan>100</ObjectSizeLessThan>"
            "</And></Filter>" + days(1),
            rule_id="tmp-small",
        ),
        rule(f"<Filter>{TAG}</Filter>" + days(2), rule_id="tagged"),
        rule("<Prefix>logs/</Prefix>" + date(in_five_days), rule_id="dated"),
        rule(
            "<Filter><ObjectSizeGreaterThan>1000</ObjectSizeGreaterThan></Filter>" + days(4),
            rule_id="big",
        ),
        rule(
            f"<Filter><And><Prefix>logs/</Prefix>{TAG}"
            "<ObjectSizeGreaterThan>10</ObjectSizeGreaterThan></And></Filter>" + days(1),
            rule_id="logs-tagged",
        ),
        rule("<Filter><Prefix>tmp/</Prefix></Filter>" + days(3), rule_id="tmp-too"),
        rule("<Filter/>" + days(1), rule_id="off", status="Disabled"),
        rule(
            "<Filter/><Expiration><ExpiredObjectDeleteMarker>true</ExpiredObjectDeleteMarker>"
            "</Expiration><AbortIncompleteMultipartUpload><DaysAfterInitiation>1"
            "</DaysAfterInitiation></AbortIncompleteMultipartUpload>",
            rule_id="markers-and-uploads",
        ),
    )
    objects = {
        "tmp/a": (10, None),
        "tmp/big": (5000, None),
        "tmp/tagged": (500, "keep=no"),
        "logs/a": (50, None),
        "logs/tagged": (50, "keep=no"),
        "logs/tagged-small": (5, "keep=no"),
        "home/a": (10, None),
        "home/big": (2000, None),
        "home/kept": (10, "keep=yes"),
    }
    told: dict[str, tuple[datetime, str] | None] = {}
    for key, (size, tags) in objects.items():
        written = await put(client, key, b"x" * size, tags)
        told[key] = expiry_of(written)
        assert {expiry_of(await client.request(m, f"{B}/{key}")) for m in ("HEAD", "GET")} == {
            told[key]
        }
    # The cases the rules were written for, so that the comparison below is not vacuous.
    assert {key: None if found is None else found[1] for key, found in told.items()} == {
        "tmp/a": "tmp-small",
        "tmp/big": "tmp",
        "tmp/tagged": "tagged",
        "logs/a": "dated",
        "logs/tagged": "logs-tagged",
        "logs/tagged-small": "tagged",
        "home/a": None,
        "home/big": "big",
        "home/kept": None,
    }
    clock = Clock()
    actions: list[LifecycleAction] = []
    run = runner(client, clock, actions)
    for due in sorted({found[0] for found in told.values() if found is not None}):
        clock.now = due - timedelta(seconds=1)
        await run.run_once()
        assert await keys(client) == sorted(
            key for key, found in told.items() if found is None or found[0] >= due
        )
        actions.clear()
        clock.now = due
        await run.run_once()
        assert sorted((action.key, action.rule_id) for action in actions) == sorted(
            (key, found[1]) for key, found in told.items() if found is not None and found[0] == due
        )
    clock.now += timedelta(days=3650)
    await run.run_once()
    assert await keys(client) == sorted(key for key, found in told.items() if found is None)
