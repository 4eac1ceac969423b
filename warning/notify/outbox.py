"""The tick that sends due notices: the ``notices`` table as an outbox.

:meth:`Outbox.tick` takes every pending notice whose ``due_at`` has passed on the
injected clock, sends it (writes it to the notification log) and marks it sent, in one
transaction. Nothing is held in memory between ticks, so a restart loses nothing: the
first tick after it sends whatever came due while the service was down, once, and the
next tick finds those already marked sent.

The tick takes the ingest lock (only when something is due), so it never interleaves
with an operator's move that cancels the very notice it is about to send.
"""
from __future__ import annotations

import threading
from typing import Any

from warning.clock import Clock
from warning.notify.log import NotificationLog
from warning.storage.database import Database, translated
from warning.storage.notices import any_due, take_due
from warning.timefmt import rfc3339


class Outbox:
    def __init__(self, database: Database, clock: Clock, log: NotificationLog, lock: threading.Lock) -> None:
        self.database = database
        self.clock = clock
        self.log = log
        self.lock = lock

    def tick(self) -> list[dict[str, Any]]:
        """Send what is due now; returns the payloads sent, oldest first."""
        now = self.clock.now()
        if not any_due(self.database.engine, now):
            return []
        with self.lock, translated("send the due notices"), self.database.engine.begin() as conn:
            payloads = take_due(conn, now)
            if payloads:
                sent_at = rfc3339(now)
                self.log.write([{**p, "sent_at": sent_at} for p in payloads])
        return payloads
