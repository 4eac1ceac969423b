"""File sources: JSONL or CSV, gzip recognised by its magic bytes, ``-`` for stdin; every
record carries ``name:line`` so a bad one can be dead-lettered with where it came from."""
from __future__ import annotations

import gzip
import io
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ingest.sources.files import detect_format, read_lines

Write = Callable[[str, bytes], str]

JSONL = (
    b'{"id":"e1","ts":"2026-11-20T10:00:00Z","signal":"mentions","entity":"brand-x","value":42}\n'
    b'{"id":"e2","ts":"2026-11-20T11:00:00Z","signal":"mentions","entity":"brand-x","value":7}\n'
)
CSV = (
    b"id,ts,signal,entity,value,labels\n"
    b'e1,2026-11-20T10:00:00Z,mentions,brand-x,42,"{""channel"": ""weibo""}"\n'
    b"e2,2026-11-20T11:00:00Z,mentions,brand-x,7,\n"
)
CSV_RECORDS = [
    ("events.csv:2", {"id": "e1", "ts": "2026-11-20T10:00:00Z", "signal": "mentions", "entity": "brand-x",
                      "value": 42.0, "labels": {"channel": "weibo"}}),
    ("events.csv:3", {"id": "e2", "ts": "2026-11-20T11:00:00Z", "signal": "mentions", "entity": "brand-x",
                      "value": 7.0}),
]


@pytest.fixture
def write(tmp_path: Path) -> Write:
    """``write(name, data)``: a file in this test's directory; returns its path."""

    def make(name: str, data: bytes) -> str:
        path = tmp_path / name
        path.write_bytes(data)
        return str(path)

    return make


class _Stdin:
    """Stands in for ``sys.stdin``: the file source reads its binary ``buffer``."""

    def __init__(self, data: bytes) -> None:
        self.buffer = io.BytesIO(data)


@pytest.fixture
def stdin(monkeypatch: pytest.MonkeyPatch) -> Callable[[bytes], None]:
    def feed(data: bytes) -> None:
        monkeypatch.setattr(sys, "stdin", _Stdin(data))

    return feed


# -- JSONL --------------------------------------------------------------------------------


def test_jsonl_lines_come_out_raw_with_file_and_line_number(write: Write) -> None:
    path = write("events.jsonl", JSONL)

    assert list(read_lines(path)) == [
        ("events.jsonl:1", JSONL.splitlines(keepends=True)[0]),
        ("events.jsonl:2", JSONL.splitlines(keepends=True)[1]),
    ]


def test_blank_lines_are_skipped_but_still_counted(write: Write) -> None:
    first, second = JSONL.splitlines(keepends=True)
    path = write("events.jsonl", first + b"\n   \n\t\r\n" + second)

    assert [source for source, _ in read_lines(path)] == ["events.jsonl:1", "events.jsonl:5"]


def test_a_last_line_without_newline_is_read(write: Write) -> None:
    path = write("events.jsonl", JSONL.rstrip(b"\n"))

    assert [record for _, record in read_lines(path)][-1] == JSONL.splitlines()[1]


def test_a_bad_line_is_passed_on_for_validation_not_dropped(write: Write) -> None:
    path = write("events.jsonl", b"not json\n" + JSONL)

    assert list(read_lines(path))[:2] == [("events.jsonl:1", b"not json\n"),
                                          ("events.jsonl:2", JSONL.splitlines(keepends=True)[0])]


# -- CSV ----------------------------------------------------------------------------------


def test_csv_rows_become_records_with_numbers_and_json_labels(write: Write) -> None:
    path = write("events.csv", CSV)

    assert list(read_lines(path)) == CSV_RECORDS


def test_csv_sources_count_physical_lines_including_the_header_and_blank_lines(write: Write) -> None:
    header, first, second = CSV.splitlines(keepends=True)
    path = write("events.csv", header + first + b"\n" + second)

    assert [source for source, _ in read_lines(path)] == ["events.csv:2", "events.csv:4"]


@pytest.mark.parametrize(("row", "record"), [
    pytest.param(b"e3,2026-11-20T12:00:00Z,mentions,brand-x,many,\n",
                 {"id": "e3", "ts": "2026-11-20T12:00:00Z", "signal": "mentions", "entity": "brand-x",
                  "value": "many"}, id="value that is not a number stays text"),
    pytest.param(b"e3,2026-11-20T12:00:00Z,mentions,brand-x,1,{channel}\n",
                 {"id": "e3", "ts": "2026-11-20T12:00:00Z", "signal": "mentions", "entity": "brand-x",
                  "value": 1.0, "labels": "{channel}"}, id="labels that are not JSON stay text"),
    pytest.param(b"e3,2026-11-20T12:00:00Z,mentions\n",
                 {"id": "e3", "ts": "2026-11-20T12:00:00Z", "signal": "mentions"}, id="short row"),
    pytest.param(b"e3,2026-11-20T12:00:00Z,mentions,brand-x,1,,surplus\n",
                 {"id": "e3", "ts": "2026-11-20T12:00:00Z", "signal": "mentions", "entity": "brand-x",
                  "value": 1.0, "_extra_cells": ["surplus"]}, id="long row"),
])
def test_a_bad_csv_row_is_passed_on_for_validation_not_dropped(
    write: Write, row: bytes, record: dict[str, Any]
) -> None:
    path = write("events.csv", CSV + row)

    assert list(read_lines(path))[-1] == ("events.csv:4", record)


def test_a_csv_with_a_byte_order_mark_reads_its_first_column_name(write: Write) -> None:
    path = write("events.csv", b"\xef\xbb\xbf" + CSV)

    assert list(read_lines(path)) == CSV_RECORDS


def test_invalid_utf8_in_one_csv_row_does_not_stop_the_file(write: Write) -> None:
    header, first, second = CSV.splitlines(keepends=True)
    path = write("events.csv", header + first.replace(b"brand-x", b"brand-\xff") + second)

    records = list(read_lines(path))

    assert [source for source, _ in records] == ["events.csv:2", "events.csv:3"]
    assert records[1] == CSV_RECORDS[1]


def test_the_format_can_be_forced(write: Write) -> None:
    path = write("events.txt", CSV)

    assert list(read_lines(path, "csv")) == [(f"events.txt:{n}", r) for n, (_, r) in zip((2, 3), CSV_RECORDS)]


@pytest.mark.parametrize(("path", "fmt"), [
    pytest.param("events.jsonl", "jsonl", id="jsonl"),
    pytest.param("events.csv", "csv", id="csv"),
    pytest.param("EVENTS.CSV.GZ", "csv", id="gzipped csv, upper case"),
    pytest.param("events.jsonl.gz", "jsonl", id="gzipped jsonl"),
    pytest.param("events.ndjson", "jsonl", id="anything else is jsonl"),
    pytest.param("-", "jsonl", id="stdin"),
])
def test_the_format_follows_the_file_name(path: str, fmt: str) -> None:
    assert detect_format(path) == fmt


# -- gzip and stdin -----------------------------------------------------------------------


@pytest.mark.parametrize("name", [
    pytest.param("events.jsonl.gz", id="gz suffix"),
    pytest.param("events.jsonl", id="no gz suffix"),
])
def test_gzip_is_recognised_by_its_magic_bytes(write: Write, name: str) -> None:
    path = write(name, gzip.compress(JSONL))

    assert [record for _, record in read_lines(path, "jsonl")] == JSONL.splitlines(keepends=True)


@pytest.mark.parametrize("gzipped", [False, True], ids=["plain", "gzip"])
def test_lines_across_read_blocks_are_whole_and_numbered(write: Write, monkeypatch: pytest.MonkeyPatch,
                                                         gzipped: bool) -> None:
    # Blocks of 7 bytes: lines longer than a block, blank lines and no newline at the end.
    monkeypatch.setattr("ingest.sources.files.READ_BUFFER", 7)
    data = JSONL + b"\n  \n" + JSONL.rstrip(b"\n")
    path = write("events.jsonl", gzip.compress(data) if gzipped else data)

    lines = data.splitlines(keepends=True)
    assert list(read_lines(path)) == [(f"events.jsonl:{n}", line) for n, line in enumerate(lines, 1)
                                      if not line.isspace()]


def test_lines_are_numbered_past_the_thousands(write: Write) -> None:
    lines = [b"\n" if n % 7 == 0 else b'{"n": %d}\n' % n for n in range(1, 2346)]
    path = write("events.jsonl", b"".join(lines))

    assert list(read_lines(path)) == [(f"events.jsonl:{n}", line) for n, line in enumerate(lines, 1)
                                      if line != b"\n"]


def test_gzipped_csv_is_read(write: Write) -> None:
    path = write("events.csv.gz", gzip.compress(CSV))

    assert [record for _, record in read_lines(path)] == [record for _, record in CSV_RECORDS]


def test_dash_reads_jsonl_from_stdin(stdin: Callable[[bytes], None]) -> None:
    stdin(JSONL)

    assert list(read_lines("-")) == [
        ("stdin:1", JSONL.splitlines(keepends=True)[0]),
        ("stdin:2", JSONL.splitlines(keepends=True)[1]),
    ]


def test_dash_reads_gzip_from_stdin(stdin: Callable[[bytes], None]) -> None:
    stdin(gzip.compress(JSONL))

    assert [source for source, _ in read_lines("-")] == ["stdin:1", "stdin:2"]


def test_dash_reads_csv_from_stdin_when_told(stdin: Callable[[bytes], None]) -> None:
    stdin(CSV)

    assert list(read_lines("-", "csv")) == [(f"stdin:{n}", r) for n, (_, r) in zip((2, 3), CSV_RECORDS)]
