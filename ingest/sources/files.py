"""Events from a file: JSONL or CSV with the canonical columns, gzip accepted, ``-`` for stdin.

Records are yielded raw with where they came from (``events.jsonl:12``), so a line that
fails validation can be dead-lettered with its source and nothing is dropped silently.
"""
from __future__ import annotations

import csv
import gzip
import io
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, Literal

import orjson

Format = Literal["jsonl", "csv"]
NUMBER_COLUMNS = ("value", "count", "total")
READ_BUFFER = 1 << 20
_UNITS = [str(n) for n in range(1000)]
_PADDED_UNITS = [f"{n:03d}" for n in range(1000)]


def detect_format(path: str) -> Format:
    name = path.lower().removesuffix(".gz")
    return "csv" if name.endswith(".csv") else "jsonl"


def open_binary(path: str) -> io.BufferedReader[Any]:
    """The file (or stdin for ``-``), transparently gunzipped when it starts with gzip's magic."""
    raw: IO[bytes] = sys.stdin.buffer if path == "-" else open(path, "rb")  # noqa: SIM115
    buffered = raw if isinstance(raw, io.BufferedReader) else io.BufferedReader(raw)  # type: ignore[type-var]
    if buffered.peek(2)[:2] == b"\x1f\x8b":
        # A C BufferedReader on top asks GzipFile for a megabyte at a time (its readline is
        # Python code run once per line) and gives text and CSV a buffered stream.
        unzipped = gzip.GzipFile(fileobj=buffered)
        unzipped.myfileobj = buffered  # type: ignore[assignment]  # closed with it, as gzip.open() does
        return io.BufferedReader(unzipped, READ_BUFFER)
    return buffered


def read_lines(path: str, fmt: Format | None = None) -> Iterator[tuple[str, bytes | dict[str, Any]]]:
    """``(source, record)`` pairs: raw JSON lines, or dicts built from CSV rows."""
    name = "stdin" if path == "-" else Path(path).name
    fmt = fmt or detect_format(path)
    with open_binary(path) as stream:
        if fmt == "csv":
            yield from _csv_rows(name, stream)
            return
        # Line thousand * 1000 + unit is named prefix + digits[unit]: formatting every line's
        # number would cost 3 % of a replay, a concatenation costs a tenth of that.
        thousand, unit, prefix, digits = 0, 0, f"{name}:", _UNITS
        for lines in _line_blocks(stream):
            for line in lines:
                unit += 1
                if unit == 1000:
                    thousand, unit = thousand + 1, 0
                    prefix, digits = f"{name}:{thousand}", _PADDED_UNITS
                if not line.isspace():  # the same ASCII whitespace as strip(), without a copy
                    yield prefix + digits[unit], line


def _line_blocks(stream: io.BufferedReader[Any]) -> Iterator[list[bytes]]:
    """The stream's lines as iterating it gives them (newline kept), a block at a time:
    iterating a buffered GzipFile asks it, in Python, whether it is closed for every line.
    ``read1`` returns what one read of the source gives, so stdin is not held back."""
    tail = b""
    while block := stream.read1(READ_BUFFER):
        lines = io.BytesIO(block).readlines()
        if tail:
            lines[0] = tail + lines[0]
        tail = lines.pop() if not lines[-1].endswith(b"\n") else b""
        yield lines
    if tail:
        yield [tail]


def _csv_rows(name: str, stream: IO[bytes]) -> Iterator[tuple[str, bytes | dict[str, Any]]]:
    # utf-8-sig: spreadsheets start CSV files with a byte order mark. errors="replace": one badly
    # encoded row must not stop the file. The with: closed here, not by the garbage collector.
    with io.TextIOWrapper(stream, encoding="utf-8-sig", errors="replace", newline="") as text:
        reader = csv.DictReader(text)
        for row in reader:
            source = f"{name}:{reader.line_num}"
            record: dict[str, Any] = {}
            for column, cell in row.items():
                if column is None:  # more cells than columns
                    record["_extra_cells"] = cell
                elif cell not in ("", None):
                    record[column] = _cell(column, cell)
            yield source, record


def _cell(column: str, cell: str) -> Any:
    if column in NUMBER_COLUMNS:
        try:
            return float(cell)
        except ValueError:
            return cell  # validation names the column and the bad value
    if column == "labels":
        try:
            return orjson.loads(cell)
        except orjson.JSONDecodeError:
            return cell
    return cell
