"""Webhook test support: a real HTTP receiver on loopback and a started service on a manual
clock that the test drives (:class:`Hooks`).

Each path is its own subscriber (``receiver.url("a")`` -> ``http://127.0.0.1:<port>/a``).
Every request is recorded with its headers and body; ``receiver.answer(name, status,
headers)`` sets what that subscriber answers from now on (202 by default).
"""
from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from tests.api.support import SIGNALS, T0, client_for, running, surge
from warning.clock import ManualClock
from warning.settings import Settings


@dataclass(slots=True, frozen=True)
class Received:
    path: str
    headers: dict[str, str]  # lower-case names
    body: bytes
    status: int  # what the receiver answered

    @property
    def event(self) -> dict[str, Any]:
        return json.loads(self.body)  # type: ignore[no-any-return]


class Receiver:
    def __init__(self) -> None:
        self.port = 0
        self._requests: list[Received] = []
        self._answers: dict[str, tuple[int, dict[str, str]]] = {}
        self._delays: dict[str, float] = {}

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/{name}"

    def answer(self, name: str, status: int, headers: dict[str, str] | None = None, *, after: float = 0.0) -> None:
        """From now on ``name`` answers ``status`` with ``headers``, ``after`` seconds."""
        self._answers[name] = (status, headers or {})
        self._delays[name] = after

    def requests(self, name: str | None = None) -> list[Received]:
        return [r for r in self._requests if name is None or r.path == f"/{name}"]

    def events(self, name: str) -> list[dict[str, Any]]:
        """The events ``name`` accepted (answered 2xx), in arrival order."""
        return [r.event for r in self.requests(name) if 200 <= r.status < 300]

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """HTTP/1.1 with keep-alive, as much of it as a webhook POST needs."""
        try:
            while True:
                head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
                path = head[0].split(" ")[1]
                headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in head[1:] if line)}
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                status, extra = self._answers.get(path.lstrip("/"), (202, {}))
                self._requests.append(Received(path, headers, body, status))
                await asyncio.sleep(self._delays.get(path.lstrip("/"), 0.0))
                lines = "".join(f"{k}: {v}\r\n" for k, v in extra.items())
                writer.write(f"HTTP/1.1 {status} Answer\r\ncontent-length: 0\r\n{lines}\r\n".encode())
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass  # the client closed the connection, or the test is over
        finally:
            writer.close()


@asynccontextmanager
async def receiving() -> AsyncIterator[Receiver]:
    """A receiver on a free loopback port, served by the test's own event loop (no threads:
    a thread per connection would fight the service for the GIL and slow both)."""
    receiver = Receiver()
    server = await asyncio.start_server(receiver.serve, "127.0.0.1", 0)
    receiver.port = server.sockets[0].getsockname()[1]
    try:
        yield receiver
    finally:
        server.close()


# -- the service side ---------------------------------------------------------------------

RAISED = T0.timestamp() + 25 * 60  # the surge of tests.api.support raises its alert at 10:25
README = Path(__file__).resolve().parents[2] / "README.md"


def readme_verify() -> Callable[..., bool]:
    """The ``verify`` function of the README's Webhooks section, as printed there."""
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## Webhooks"):]
    code = section[section.index("```python\n") + len("```python\n"):]
    code = code[:code.index("```")]
    namespace: dict[str, Any] = {}
    exec(compile(code, "README.md#webhooks", "exec"), namespace)  # noqa: S102 (our own README, on purpose)
    return namespace["verify"]  # type: ignore[no-any-return]


@dataclass
class Hooks:
    """A started service on a manual clock, a client, and a receiver."""

    app: FastAPI
    client: httpx.AsyncClient
    receiver: Receiver
    clock: ManualClock

    async def subscribe(self, name: str, **body: Any) -> dict[str, Any]:
        answer = await self.client.post("/v1/subscriptions", json={"url": self.receiver.url(name), **body})
        assert answer.status_code == 201, answer.text
        return answer.json()  # type: ignore[no-any-return]

    async def raise_alert(self, entity: str = "policy-system") -> str:
        await self.client.post("/v1/events", json=surge(entity))
        alerts = (await self.client.get("/v1/alerts", params={"entity": entity})).json()["items"]
        return str(alerts[0]["id"])

    async def deliver(self) -> None:
        """What the service's tasks do, now: send the due notices, deliver what is due."""
        await asyncio.to_thread(self.app.state.outbox.tick)
        await self.app.state.dispatcher.settle()

    async def advance(self, seconds: float, *, step: float = 60.0) -> None:
        """Move the clock ``seconds`` ahead in steps, delivering at each."""
        end = self.clock.now() + seconds
        while self.clock.now() < end:
            self.clock.set(min(end, self.clock.now() + step))
            await self.deliver()

    async def deliveries(self, subscription_id: str, **params: Any) -> list[dict[str, Any]]:
        answer = await self.client.get(f"/v1/subscriptions/{subscription_id}/deliveries", params=params)
        assert answer.status_code == 200, answer.text
        return answer.json()["items"]  # type: ignore[no-any-return]


def hook_settings(make_settings: Callable[..., Settings], **overrides: Any) -> Settings:
    """Loopback receivers allowed; the service's own timers idle (the tests drive them)."""
    overrides = {"signals": SIGNALS, "webhook_allow_private": True, "clock_tick_seconds": 3600,
                 "webhook_poll_seconds": 3600, "webhook_timeout_seconds": 5, **overrides}
    return make_settings(**overrides)


@asynccontextmanager
async def hooked(settings: Settings, clock: ManualClock, receiver: Receiver) -> AsyncIterator[Hooks]:
    async with running(settings, clock) as app, client_for(app) as client:
        yield Hooks(app, client, receiver, clock)
