"""An in-process broadcast hub: what just happened, for whoever is watching live.

Ingest publishes its alert changes and the outbox tick the notices it sent; each
subscriber (one console's event stream) gets every message from the moment it
subscribed. Publishers run in worker threads, subscribers on the event loop, so
:meth:`Hub.publish` hands messages over with ``call_soon_threadsafe`` and never blocks
a batch.

The hub is a convenience, not a record: the database is. A subscriber that falls
``max_pending`` messages behind (a stalled browser tab) gets one ``resync`` message
instead of the rest and refetches what it shows, so a slow reader never holds memory
nor delays anyone else.

>>> import asyncio
>>> async def demo() -> list[str]:
...     hub = Hub()
...     with hub.subscribe() as inbox:
...         hub.publish("notice", {"id": "n1"})
...         return [(await inbox.get()).event]
>>> asyncio.run(demo())
['notice']
"""
from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from warning.alerts import AlertChange


@dataclass(slots=True, frozen=True)
class Message:
    event: str  # alert | notice | resync
    data: dict[str, Any]


RESYNC = Message("resync", {"reason": "too many messages behind: refetch"})


class Inbox:
    """One subscriber's queue; it ends with a single ``resync`` when it overflows."""

    def __init__(self, loop: asyncio.AbstractEventLoop, max_pending: int) -> None:
        self.loop = loop
        self._queue: asyncio.Queue[Message] = asyncio.Queue()
        self._max = max_pending
        self._overflowed = False

    def _put(self, message: Message) -> None:  # on the loop's thread
        if self._overflowed:
            return
        if self._queue.qsize() >= self._max:
            self._overflowed = True
            while not self._queue.empty():
                self._queue.get_nowait()
            message = RESYNC
        self._queue.put_nowait(message)

    async def get(self) -> Message:
        message = await self._queue.get()
        if message is RESYNC:
            self._overflowed = False  # the reader is about to refetch: live messages count again
        return message


class Hub:
    def __init__(self, max_pending: int = 1000) -> None:
        self._inboxes: set[Inbox] = set()
        self._lock = threading.Lock()
        self._max = max_pending

    @contextmanager
    def subscribe(self) -> Iterator[Inbox]:
        """An inbox on the running event loop, receiving until the block ends."""
        inbox = Inbox(asyncio.get_running_loop(), self._max)
        with self._lock:
            self._inboxes.add(inbox)
        try:
            yield inbox
        finally:
            with self._lock:
                self._inboxes.discard(inbox)

    @property
    def subscribers(self) -> int:
        return len(self._inboxes)

    def publish(self, event: str, data: dict[str, Any]) -> None:
        """Deliver to every subscriber; safe from any thread, never blocks."""
        message = Message(event, data)
        with self._lock:
            inboxes = list(self._inboxes)
        for inbox in inboxes:
            try:
                inbox.loop.call_soon_threadsafe(inbox._put, message)
            except RuntimeError:  # its loop has closed: the subscriber is going away
                pass

    def publish_changes(self, changes: Sequence[AlertChange]) -> None:
        """Each alert change as an ``alert`` message: the alert as it now stands, and why it changed."""
        for change in changes:
            self.publish("alert", {"reason": change.reason.value, "alert": change.alert.to_json()})

    def publish_notices(self, payloads: Sequence[dict[str, Any]]) -> None:
        for payload in payloads:
            self.publish("notice", payload)
