"""Every answer that is not a success has the one error shape, Starlette's and FastAPI's own included."""
from __future__ import annotations

import httpx


async def test_an_unknown_route_answers_404_in_the_error_shape(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/nothing-here")

    assert response.status_code == 404
    assert response.json() == {"error": {"type": "not_found", "message": "GET /v1/nothing-here: Not Found"}}


async def test_a_method_the_route_does_not_take_answers_405_with_allow(client: httpx.AsyncClient) -> None:
    response = await client.delete("/v1/alerts")

    assert response.status_code == 405
    assert response.json()["error"]["type"] == "method_not_allowed"
    assert response.headers["allow"] == "GET"


async def test_a_body_that_is_not_json_answers_400_like_the_events_route(client: httpx.AsyncClient) -> None:
    move = await client.post("/v1/alerts/alr_x/respond", content=b"not json",
                             headers={"content-type": "application/json"})
    events = await client.post("/v1/events", content=b"not json", headers={"content-type": "application/json"})

    assert (move.status_code, move.json()["error"]["type"]) == (400, "bad_request")
    assert (events.status_code, events.json()["error"]["type"]) == (400, "bad_request")
