"""Fetched record batches to kafka-python's ``ConsumerRecord`` tuples, at a third of its cost.

kafka-python parses a v2 record batch record by record through several layers of objects
(about 6 us a record here, as much as detecting on an event). :class:`LeanPartitionRecords`
reads each batch in one loop and builds the same tuples, keeping kafka-python's checks
(batch CRC, record lengths, leftover bytes) and bookkeeping (the next fetch offset after
each record, control batches skipped). Old-format batches, deserializers and
``read_committed`` go through kafka-python. It plugs into kafka-python 3.0's fetcher
(:func:`ingest.kafka.config.worker_consumer`), which is why pyproject pins 3.0.x;
tests/kafka/test_worker.py checks that it yields what kafka-python's own reader does.
"""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from kafka.consumer.fetcher import ConsumerRecord, Fetcher, IsolationLevel
from kafka.errors import CorruptRecordError


class LeanPartitionRecords(Fetcher.PartitionRecords):  # type: ignore[misc]
    """kafka-python's records of one fetched partition, read with less work per record.

    kafka-python reads a record into a record object, then copies it into a
    ``ConsumerRecord`` with per-record checks and size sums: about 5 us a record here, a
    quarter of a worker's time with one event per record. This reads each v2 batch in one
    loop straight into the same ``ConsumerRecord``s, about 2 us a record, keeping
    kafka-python's checks (batch CRC, record lengths) and bookkeeping (the next fetch
    offset after each record, control batches skipped). Batches of the old formats
    (magic 0 and 1) are read by kafka-python record by record; with deserializers or
    ``read_committed`` all of it is kafka-python's own. It builds on kafka-python 3's
    fetcher internals: ``tests/kafka/test_worker.py`` holds it to kafka-python's own reading.
    """

    def _unpack_records(self, tp: Any, records: Any, key_deserializer: Any,
                        value_deserializer: Any) -> Iterator[ConsumerRecord]:
        if key_deserializer or value_deserializer or self.isolation_level != IsolationLevel.READ_UNCOMMITTED:
            yield from super()._unpack_records(tp, records, key_deserializer, value_deserializer)
            return
        batch = records.next_batch()
        while batch is not None:
            if self.check_crcs and not batch.validate_crc():
                raise CorruptRecordError(f"Record batch for partition {tp} at offset {batch.base_offset} "
                                         "failed crc check")
            if batch.magic < 2:
                yield from self._legacy(tp, batch)
            else:
                self.leader_epoch = batch.leader_epoch
                if not batch.is_control_batch:
                    yield from self._batch(tp, batch)
                self.next_fetch_offset = batch.next_offset  # past records compaction removed
            batch = records.next_batch()
        self.drain()

    def _batch(self, tp: Any, batch: Any) -> Iterator[ConsumerRecord]:
        batch._maybe_uncompress()  # kafka-python's: the records start at _pos of _buffer
        data, p = bytes(batch._buffer), batch._pos
        topic, partition, epoch, base = tp.topic, tp.partition, batch.leader_epoch, batch.base_offset
        kind, first = batch.timestamp_type, batch.first_timestamp
        append_time = batch.max_timestamp if kind == batch.LOG_APPEND_TIME else None
        new, count = tuple.__new__, batch.records_count
        try:
            for _ in range(count):
                length, p = _varint(data, p)
                stop = p + length
                delta, p = _varint(data, p + 1)  # after the attributes, unused
                timestamp = first + delta if append_time is None else append_time
                delta, p = _varint(data, p)
                offset = base + delta
                key_size, p = _varint(data, p)
                key = None if key_size < 0 else data[p:p + key_size]
                value_size, p = _varint(data, p + max(key_size, 0))
                value = None if value_size < 0 else data[p:p + value_size]
                p += max(value_size, 0)
                headers: list[tuple[str, bytes | None]] = []
                header_size = -1
                if data[p]:
                    p, header_size = _headers(data, p, headers)
                else:
                    p += 1
                if p != stop:
                    raise CorruptRecordError(f"Invalid record size at offset {offset} of partition {tp}")
                self.next_fetch_offset = offset + 1
                yield new(ConsumerRecord, (topic, partition, epoch, offset, timestamp, kind, key, value, headers,
                                           None, key_size, value_size, header_size))
        except (IndexError, ValueError) as exc:
            raise CorruptRecordError(f"Found invalid record structure: {exc!r}") from exc
        if p != len(data):
            raise CorruptRecordError(f"{len(data) - p} unconsumed bytes after all records consumed")
        self.records_read += count
        self.bytes_read += batch.size_in_bytes

    def _legacy(self, tp: Any, batch: Any) -> Iterator[ConsumerRecord]:
        for record in batch:
            if self.check_crcs and not record.validate_crc():
                raise CorruptRecordError(f"Record for partition {tp} at offset {record.offset} failed crc check")
            key, value = record.key, record.value
            self.records_read += 1
            self.bytes_read += record.size_in_bytes
            self.next_fetch_offset = record.offset + 1
            yield ConsumerRecord(tp.topic, tp.partition, self.leader_epoch, record.offset, record.timestamp,
                                 record.timestamp_type, key, value, record.headers, record.checksum,
                                 -1 if key is None else len(key), -1 if value is None else len(value), -1)


def _varint(data: bytes, p: int) -> tuple[int, int]:
    """The zigzag varint at ``p`` and the position after it."""
    byte = data[p]
    if byte < 128:
        return (byte >> 1) ^ -(byte & 1), p + 1
    result, shift = byte & 0x7F, 7
    while True:
        p += 1
        byte = data[p]
        result |= (byte & 0x7F) << shift
        if byte < 128:
            return (result >> 1) ^ -(result & 1), p + 1
        shift += 7
        if shift >= 64:
            raise ValueError("varint out of int64 range")


def _headers(data: bytes, p: int, out: list[tuple[str, bytes | None]]) -> tuple[int, int]:
    """A record's headers at ``p`` into ``out``: the position after them, and their size."""
    count, p = _varint(data, p)
    if count < 0:
        raise CorruptRecordError(f"Found invalid number of record headers {count}")
    size = 0
    for _ in range(count):
        length, p = _varint(data, p)
        if length < 0:
            raise CorruptRecordError(f"Invalid negative header key size {length}")
        name = data[p:p + length].decode("utf-8")
        size += length
        length, p = _varint(data, p + length)
        value = None
        if length >= 0:
            value = data[p:p + length]
            p += length
            size += length
        out.append((name, value))
    return p, size
