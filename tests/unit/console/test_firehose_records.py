"""The console's Firehose demo records and a batch's answer read back from a page's address
(decision 0367), without a server."""

from __future__ import annotations

import json

from andromede.console.firehose_records import BatchShown, batch_shown, demo_records


def test_demo_records_are_stock_ticker_json_lines() -> None:
    records = demo_records(40)
    assert len(records) == 40
    for record in records:
        assert record.endswith(b"\n") and record.count(b"\n") == 1
        line = json.loads(record)
        assert list(line) == ["ticker_symbol", "sector", "change", "price"]
        assert 1.0 <= line["price"] <= 200.0 and -1.0 <= line["change"] <= 1.0
    assert demo_records(0) == []


def test_a_batch_answer_is_numbers_and_words_only() -> None:
    query = {"batch": "7", "failed": "2", "encrypted": "yes",
             "codes": "ServiceUnavailableException,<i>x</i>,Firehose.Throttled,A,B"}  # fmt: skip
    assert batch_shown(query) == BatchShown(
        7, 2, True, ("ServiceUnavailableException", "Firehose.Throttled")
    )
    assert batch_shown({"batch": "1", "failed": ""}) is None
    assert batch_shown({"batch": "-1", "failed": "0"}) is None
    assert batch_shown({"batch": "12345", "failed": "0"}) is None  # never a batch's count
    assert batch_shown({}) is None
