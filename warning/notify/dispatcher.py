"""The webhook dispatcher: delivers the pending rows of ``webhook_deliveries``.

An asyncio task (started in the app's lifespan) looks for due deliveries every
``webhook_poll_seconds``, at once when the outbox queues new ones, and whenever an attempt
ends (the next delivery of that alert may be due). "Due" is read on the injected clock, so
tests move a manual clock through hours of retries without waiting.

Isolation: each subscription has its own lane: at most ``webhook_max_in_flight`` workers,
each attempt bounded by ``webhook_timeout_seconds``, its own HTTP connection pool, and due
deliveries taken per subscription, so a slow or dead subscriber only ever holds its own
slots. Attempts that end together are recorded in one transaction. Order: :func:`warning.storage.subscriptions.due` only offers
the earliest pending delivery of each (subscription, alert), so an alert's notices reach a
subscriber in order while other alerts proceed.

Nothing is held only in memory: an attempt's outcome is written when it ends, so after a
crash the deliveries in flight are simply attempted again (a receiver may see a
``webhook-id`` twice, never miss one), and a 2xx that was recorded is never sent again.
"""
from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import deque
from collections.abc import Coroutine
from contextlib import suppress
from typing import Any

import httpx
import orjson

from warning.clock import Clock
from warning.errors import TocsinError
from warning.metrics import Metrics
from warning.notify.signing import signature_header
from warning.notify.url_policy import Resolver, UrlPolicy, UrlRefused, system_resolver
from warning.notify.webhooks import DeliveryError, error_for_status, next_attempt, parse_retry_after
from warning.settings import Settings
from warning.storage import subscriptions as store
from warning.storage.database import Database, utc
from warning.subscriptions import Attempt, Subscription

log = logging.getLogger(__name__)
CONTENT_TYPE = "application/cloudevents+json; charset=utf-8"  # CloudEvents' structured mode
USER_AGENT = "Tocsin-Webhooks/0.1"
# Attempts ending within this window are recorded in one transaction: at full speed a
# transaction per attempt would cost more than the attempt.
RECORD_WINDOW = 0.05
BATCH_PER_SLOT = 25  # deliveries taken per attempt slot at once: few queries, a fresh URL check


class Dispatcher:
    def __init__(self, database: Database, clock: Clock, settings: Settings, metrics: Metrics, *,
                 transport: httpx.AsyncBaseTransport | None = None, resolver: Resolver = system_resolver,
                 rng: random.Random | None = None) -> None:
        self.database = database
        self.clock = clock
        self.metrics = metrics
        self.policy = UrlPolicy.of(settings.webhook_allow_private, settings.webhook_allowed_networks,
                                   settings.webhook_denied_networks)
        self.poll_seconds = settings.webhook_poll_seconds
        self.max_in_flight = settings.webhook_max_in_flight
        self.batch = BATCH_PER_SLOT * settings.webhook_max_in_flight
        self.resolver = resolver
        self.rng = rng or random.Random()
        self.timeout = settings.webhook_timeout_seconds
        self.transport = transport  # tests may pass httpx.MockTransport; None: real connections
        self._lanes: dict[str, _Lane] = {}
        self._outcomes: list[store.Outcome] = []
        self._recorded = asyncio.Event()
        self._recording = asyncio.Lock()
        self._taking = asyncio.Lock()
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    # -- life -----------------------------------------------------------------------------

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._spawn(self._run())

    async def stop(self) -> None:
        """Stop taking deliveries and abandon what is in flight (it stays pending); attempts
        that ended are recorded first."""
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with suppress(asyncio.CancelledError):
                await task
        with suppress(TocsinError, OSError):
            await self._record()
        for lane in self._lanes.values():
            await lane.client.aclose()

    def wake(self) -> None:
        """Look for due deliveries now; callable from any thread (the outbox ticks in one)."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    def _spawn(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            try:
                await self.dispatch_due()
                await self.measure()
            except (TocsinError, OSError) as exc:  # the database is away: try again at the next poll
                log.warning("webhook deliveries not dispatched: %s", exc)
            with suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_seconds)

    # -- taking, attempting, recording ----------------------------------------------------

    async def dispatch_due(self) -> int:
        """Take the deliveries due now into each subscription's lane (up to a batch per
        lane) and make sure its workers run; returns how many were taken."""
        async with self._taking:
            now = utc(self.clock.now())
            due_subscriptions = await asyncio.to_thread(store.due_subscriptions, self.database, now)
            if not due_subscriptions:
                return 0
            subscriptions = await asyncio.to_thread(store.enabled_subscriptions, self.database)
            taken = 0
            for subscription_id in due_subscriptions:
                subscription = subscriptions.get(subscription_id)
                if subscription is None:
                    continue
                lane = self._lanes.get(subscription_id) or self._lanes.setdefault(subscription_id,
                                                                                  self._lane(subscription))
                if lane.gone and lane.claimed:
                    continue  # a 410 is being recorded: the subscription is about to be disabled
                lane.gone = False
                lane.subscription = subscription  # a rotated secret or a new URL applies from now on
                room = self.batch - len(lane.queue)
                if room <= 0:
                    continue
                # A copy taken before the query: an id leaves ``claimed`` only once its attempt is
                # committed, so one missing from the copy is no longer pending in what the query reads.
                fresh = await asyncio.to_thread(store.due, self.database, subscription_id, now, limit=room,
                                                busy=frozenset(lane.claimed))
                if not fresh:
                    continue
                # The URL is checked again for each batch taken (DNS may have changed since it
                # was subscribed); a batch is a few seconds of one subscriber's deliveries.
                lane.refusal = await asyncio.to_thread(self._refusal, subscription.url)
                lane.queue.extend(fresh)
                lane.claimed.update(d.id for d in fresh)
                taken += len(fresh)
                while lane.workers < self.max_in_flight and lane.workers < len(lane.queue):
                    lane.workers += 1
                    self._spawn(self._work(lane))
            return taken

    def _lane(self, subscription: Subscription) -> _Lane:
        # A client (connection pool) per subscription: one subscriber's connections never wait
        # for another's, and each pool stays small (httpcore's pool work grows with its size).
        client = httpx.AsyncClient(
            transport=self.transport, follow_redirects=False, timeout=self.timeout,
            limits=httpx.Limits(max_connections=self.max_in_flight, max_keepalive_connections=self.max_in_flight))
        return _Lane(subscription, client)

    def _refusal(self, url: str) -> str | None:
        try:
            self.policy.check(url, self.resolver)
        except UrlRefused as exc:
            return str(exc)
        return None

    async def settle(self) -> None:
        """Deliver until nothing is due now and nothing is in flight (tests, benchmarks)."""
        while True:
            taken = await self.dispatch_due()
            if any(lane.claimed for lane in self._lanes.values()):
                self._recorded.clear()
                await self._recorded.wait()
            elif not taken:
                await self.measure()
                return

    async def _work(self, lane: _Lane) -> None:
        """One of a subscription's ``webhook_max_in_flight`` workers: attempts until its lane is empty."""
        try:
            while lane.queue:
                outcome = await self._attempt(lane, lane.queue.popleft())
                if outcome.disable is not None:  # 410: the rest of the batch waits, as pending
                    lane.gone = True
                    while lane.queue:
                        lane.claimed.discard(lane.queue.popleft().id)
                self._outcomes.append(outcome)
                if len(self._outcomes) == 1:
                    self._spawn(self._record_soon())
        finally:
            lane.workers -= 1

    async def _record_soon(self) -> None:
        await asyncio.sleep(RECORD_WINDOW)  # the attempts ending meanwhile join the same transaction
        try:
            await self._record()
        except (TocsinError, OSError) as exc:  # not recorded: the deliveries stay pending, taken again
            log.warning("webhook attempts not recorded: %s", exc)
        finally:
            self._recorded.set()
            self._wake.set()  # the next delivery of those alerts may be due now

    async def _record(self) -> None:
        # One writer at a time: concurrent SQLite writers wait on each other by sleeping.
        async with self._recording:
            outcomes, self._outcomes = self._outcomes, []
            if not outcomes:
                return
            try:
                await asyncio.to_thread(store.record_attempts, self.database, outcomes)
            finally:
                for o in outcomes:
                    self._lanes[o.delivery.subscription_id].claimed.discard(o.delivery.id)
        for o in outcomes:
            self.metrics.webhook_attempts.labels(o.attempt.outcome).inc()
            if o.attempt.reason is not None:
                self.metrics.webhook_failures.labels(o.attempt.reason).inc()

    async def _attempt(self, lane: _Lane, delivery: store.DueDelivery) -> store.Outcome:
        subscription = lane.subscription
        now = self.clock.now()
        at = utc(now)
        started = time.perf_counter()
        status: int | None = None
        try:
            if lane.refusal is not None:
                raise DeliveryError("refused_url", f"target refused by the URL policy: {lane.refusal}")
            body = orjson.dumps(delivery.event)
            timestamp = int(now)
            response = await lane.client.post(subscription.url, content=body, headers={
                "content-type": CONTENT_TYPE, "user-agent": USER_AGENT,
                "webhook-id": delivery.webhook_id, "webhook-timestamp": str(timestamp),
                "webhook-signature": signature_header(subscription.signing_secrets(at), delivery.webhook_id,
                                                      timestamp, body),
            })
            status = response.status_code
            error = error_for_status(status, parse_retry_after(response.headers.get("retry-after"), now))
        except DeliveryError as exc:
            error = exc
        except httpx.TimeoutException as exc:
            error = DeliveryError("timeout", f"no answer in time ({exc.__class__.__name__})")
        except httpx.ConnectError as exc:
            error = DeliveryError("connect", f"could not connect: {exc}")
        except httpx.HTTPError as exc:
            error = DeliveryError("network", f"{exc.__class__.__name__}: {exc}")
        except Exception as exc:  # a bug here must not kill the lane's worker and strand its deliveries
            log.exception("webhook attempt %s failed unexpectedly", delivery.webhook_id)
            error = DeliveryError("internal", f"{exc.__class__.__name__}: {exc}")
        duration = time.perf_counter() - started
        if error is None:
            return store.Outcome(delivery, Attempt(at, "delivered", status, None, None, duration, None))
        if not error.recoverable:
            return store.Outcome(delivery, Attempt(at, "gone", status, str(error), error.reason, duration, None),
                                 disable=f"the target answered 410 Gone at {at.isoformat()}")
        retry_at = next_attempt(delivery.round_attempts + 1, now, delivery.retry_until.timestamp(), self.rng,
                                error.retry_after)
        outcome = "retry" if retry_at is not None else "dead"
        return store.Outcome(delivery, Attempt(at, outcome, status, str(error), error.reason, duration,
                                               None if retry_at is None else utc(retry_at)))

    async def measure(self) -> None:
        pending, oldest = await asyncio.to_thread(store.backlog, self.database)
        self.metrics.webhook_pending.set(pending)
        age = 0.0 if oldest is None else max(0.0, self.clock.now() - oldest.timestamp())
        self.metrics.webhook_oldest_pending.set(age)


class _Lane:
    """One subscription's deliveries taken from the database and not yet recorded."""

    def __init__(self, subscription: Subscription, client: httpx.AsyncClient) -> None:
        self.subscription = subscription
        self.client = client
        self.queue: deque[store.DueDelivery] = deque()
        self.claimed: set[int] = set()  # queued, in flight, or attempted and not yet recorded
        self.workers = 0
        self.refusal: str | None = None  # why the URL policy refuses the target now
        self.gone = False  # answered 410: taking nothing more until that is recorded
