"""ScanRange over a Parquet object: as AWS documents, the row groups that start within the
range are read (each once whichever ranges split the file), the others not fetched."""

from __future__ import annotations

import io

import pyarrow.parquet as pq

from unit.s3select.test_scan import Object, messages, output, parquet_file, request


def group_starts(data: bytes) -> list[int]:
    meta = pq.ParquetFile(io.BytesIO(data)).metadata
    starts = []
    for group in range(meta.num_row_groups):
        columns = [meta.row_group(group).column(c) for c in range(meta.num_columns)]
        starts.append(
            min(
                c.dictionary_page_offset if c.has_dictionary_page else c.data_page_offset
                for c in columns
            )
        )
    return starts


async def select_ids(data: bytes, start: int | None, end: int | None) -> tuple[list[int], int]:
    found, counters = await messages(
        request(
            "SELECT s.id FROM S3Object s",
            csv_input=None,
            parquet=True,
            scan_start=start,
            scan_end=end,
        ),
        Object(data, 1 << 20),
    )
    return [int(line) for line in output(found).split()], counters.scanned


async def test_ranges_read_the_row_groups_starting_in_them() -> None:
    data = parquet_file(4000, row_group=1000)
    starts = group_starts(data)
    assert len(starts) == 4
    first, scanned_first = await select_ids(data, 0, starts[2] - 1)
    rest, scanned_rest = await select_ids(data, starts[2], None)
    assert first == list(range(2000)) and rest == list(range(2000, 4000))
    middle, _ = await select_ids(data, starts[1] + 1, starts[3])  # group 1 starts before it
    assert middle == list(range(2000, 4000))
    everything, scanned_all = await select_ids(data, None, None)
    assert everything == list(range(4000))
    assert scanned_first < scanned_all and scanned_rest < scanned_all
    nothing, _ = await select_ids(data, len(data) - 10, None)  # the footer: no group
    assert nothing == []
    last_bytes, _ = await select_ids(data, None, len(data) - starts[3])  # End alone: the last N
    assert last_bytes == list(range(3000, 4000))
