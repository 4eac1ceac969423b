"""The tick that sends due notices: the ``notices`` table as an outbox.

:meth:`Outbox.tick` takes every pending notice whose ``due_at`` has passed on the
injected clock, sends it (writes it to the notification log) and marks it sent, in one
transaction. Nothing is held in memory between ticks, so a restart loses nothing: the
first tick after it sends whatever came due while the service was down, once, and the
next tick finds those already marked sent. The same transaction queues each notice's
webhook deliveries (:func:`warning.storage.subscriptions.enqueue`) for the dispatcher.

The tick takes the ingest lock (only when something is due), so it never interleaves
with an operator's move that cancels the very notice it is about to send.
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from warning.clock import Clock
from warning.notify.log import NotificationLog
from warning.storage.database import Database, translated, utc
from warning.storage.notices import any_due, take_due
from warning.storage.subscriptions import enqueue
from warning.timefmt import rfc3339
from warning.workflow_metrics import WorkflowMetrics


class Outbox:
    def __init__(self, database: Database, clock: Clock, log: NotificationLog, lock: threading.Lock,
                 metrics: WorkflowMetrics | None = None) -> None:
        self.metrics = metrics  # escalations sent, and missed clocks (the overdue notices)
        self.database = database
        self.clock = clock
        self.log = log
        self.lock = lock
        self.on_sent: Callable[[list[dict[str, Any]]], None] | None = None  # told what went out (the console)
        self.on_queued: Callable[[], None] | None = None  # told of new webhook deliveries (the dispatcher)

    def tick(self) -> list[dict[str, Any]]:
        """Send what is due now; returns the payloads sent, oldest first."""
        now = self.clock.now()
        if not any_due(self.database.engine, now):
            return []
        with self.lock, translated("send the due notices"), self.database.engine.begin() as conn:
            payloads = take_due(conn, now)
            queued = 0
            if payloads:
                sent_at = rfc3339(now)
                self.log.write([{**p, "sent_at": sent_at} for p in payloads])
                # Their webhook deliveries commit with them: a notice is never sent without them.
                queued = enqueue(conn, payloads, utc(now))
        if queued and self.on_queued is not None:
            self.on_queued()
        if payloads and self.metrics is not None:
            self.metrics.sent(payloads)
        if payloads and self.on_sent is not None:
            self.on_sent(payloads)
        return payloads
