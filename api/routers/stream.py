"""``GET /v1/stream``: what happens, as it happens, as server-sent events.

Events: ``hello`` on connecting (the service clock now: a reconnecting page refetches its
state on it), ``alert`` for each alert change detection commits (``{"reason", "alert"}``),
``notice`` for each notice the clock tick sends (the notice's payload, moves' notices
included), ``resync`` when this reader fell too far behind (refetch), and a comment line
every ``HEARTBEAT_SECONDS`` so proxies and the page can tell a quiet stream from a dead one.

The key goes in the ``Authorization`` header like everywhere else, which a browser's
``EventSource`` cannot send; the console reads the stream with ``fetch()`` instead, so no
key ever appears in a URL (where access logs and browser history would keep it).
"""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from api.auth import ReadAccess
from api.deps import ClockDep
from warning.notify.hub import Hub, Message
from warning.timefmt import rfc3339

router = APIRouter(prefix="/v1", tags=["stream"])
HEARTBEAT_SECONDS = 15.0


def frame(message: Message) -> bytes:
    return b"event: " + message.event.encode() + b"\ndata: " + orjson.dumps(message.data) + b"\n\n"


@router.get("/stream", summary="Live alert changes and notices (text/event-stream)", response_class=StreamingResponse,
            responses={200: {"content": {"text/event-stream": {
                "example": 'event: alert\ndata: {"reason": "raised", "alert": {"id": "alr_3f9a..."}}\n\n'}}}})
async def stream(request: Request, caller: ReadAccess, clock: ClockDep) -> StreamingResponse:
    hub: Hub = request.app.state.hub

    async def events() -> AsyncIterator[bytes]:
        with hub.subscribe() as inbox:
            yield frame(Message("hello", {"now": rfc3339(clock.now()), "caller": caller.name}))
            while True:
                try:
                    message = await asyncio.wait_for(inbox.get(), HEARTBEAT_SECONDS)
                except TimeoutError:
                    yield b": heartbeat\n\n"
                    continue
                yield frame(message)

    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
