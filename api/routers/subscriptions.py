"""Webhook subscriptions over HTTP: manage them, see and redo their deliveries.

Every route needs the ``admin`` scope: a subscription decides where alert data goes and
holds a signing secret, which is an administrator's call rather than an operator's.
"""
from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from api.auth import AdminAccess
from api.deps import ClockDep, DatabaseDep, SettingsDep
from api.errors import InvalidParameter
from api.schemas import error_response
from api.subscription_schemas import (
    DeliveryPage,
    DeliveryRead,
    RotateRequest,
    SubscriptionCreate,
    SubscriptionList,
    SubscriptionRead,
    SubscriptionUpdate,
    SubscriptionWithSecret,
)
from api.workflow_schemas import conflict_response
from warning.notify.dispatcher import Dispatcher
from warning.notify.url_policy import UrlPolicy, UrlRefused
from warning.settings import Settings
from warning.storage import subscriptions as store
from warning.storage.database import utc

router = APIRouter(prefix="/v1/subscriptions", tags=["subscriptions"], responses={
    404: error_response("no subscription (or delivery) with this id"),
    422: error_response("a parameter or the body is invalid, or the URL policy refuses the target; "
                        "the message says why"),
    503: error_response("the database is unavailable; nothing was changed, retry"),
})


def _dispatcher(request: Request) -> Dispatcher:
    return request.app.state.dispatcher  # type: ignore[no-any-return]


DispatcherDep = Annotated[Dispatcher, Depends(_dispatcher)]
DeliveryId = Annotated[int, Path(ge=1, le=2**31 - 1, description="a delivery's id, as listed")]


def _checked(url: str, settings: Settings) -> str:
    policy = UrlPolicy.of(settings.webhook_allow_private, settings.webhook_allowed_networks,
                          settings.webhook_denied_networks)
    try:
        policy.check(url)
    except UrlRefused as exc:
        raise InvalidParameter("body.url", str(exc)) from None
    return url


@router.post("", status_code=201, response_model=SubscriptionWithSecret,
             summary="Subscribe a URL to notices; the answer shows the signing secret, once")
def create(body: SubscriptionCreate, caller: AdminAccess, db: DatabaseDep, settings: SettingsDep,
           clock: ClockDep) -> SubscriptionWithSecret:
    created = store.create(db, url=_checked(body.url, settings), filters=body.filters(),
                           description=body.description, actor=caller.name, now=utc(clock.now()))
    return SubscriptionWithSecret.of(created)


@router.get("", response_model=SubscriptionList, summary="Every subscription (secrets are never listed)")
def list_subscriptions(caller: AdminAccess, db: DatabaseDep) -> SubscriptionList:
    return SubscriptionList(items=[SubscriptionRead.of(s) for s in store.list_all(db)])


@router.get("/{subscription_id}", response_model=SubscriptionRead, summary="One subscription")
def get(subscription_id: str, caller: AdminAccess, db: DatabaseDep) -> SubscriptionRead:
    return SubscriptionRead.of(store.get(db, subscription_id))


@router.patch("/{subscription_id}", response_model=SubscriptionRead,
              summary="Change the URL, filters or description, or enable/disable it")
def update(subscription_id: str, body: SubscriptionUpdate, caller: AdminAccess, db: DatabaseDep,
           settings: SettingsDep, clock: ClockDep, dispatcher: DispatcherDep) -> SubscriptionRead:
    current = store.get(db, subscription_id)
    updated = store.update_subscription(
        db, subscription_id, now=utc(clock.now()), url=None if body.url is None else _checked(body.url, settings),
        filters=body.filters(current.filters), description=body.description, enabled=body.enabled)
    dispatcher.wake()  # re-enabled: its pending deliveries go out
    return SubscriptionRead.of(updated)


@router.delete("/{subscription_id}", status_code=204, response_class=Response,
               summary="Delete a subscription and its deliveries")
def delete(subscription_id: str, caller: AdminAccess, db: DatabaseDep) -> Response:
    store.delete_subscription(db, subscription_id)
    return Response(status_code=204)


@router.post("/{subscription_id}/rotate-secret", response_model=SubscriptionWithSecret,
             summary="A new secret; the previous one keeps signing beside it for grace_hours")
def rotate_secret(subscription_id: str, caller: AdminAccess, db: DatabaseDep, clock: ClockDep,
                  body: RotateRequest | None = None) -> SubscriptionWithSecret:
    grace = dt.timedelta(hours=(body or RotateRequest()).grace_hours)
    return SubscriptionWithSecret.of(store.rotate_secret(db, subscription_id, grace=grace, now=utc(clock.now())))


@router.get("/{subscription_id}/deliveries", response_model=DeliveryPage,
            summary="Deliveries, newest first, with every attempt (status, error, duration, next attempt)")
def deliveries(subscription_id: str, caller: AdminAccess, db: DatabaseDep,
               state: Literal["pending", "delivered", "dead"] | None = None,
               limit: Annotated[int, Query(ge=1, le=500)] = 50,
               before: Annotated[int | None, Query(ge=1, le=2**31 - 1,
                                                   description="the next_before of the previous page")] = None,
               ) -> DeliveryPage:
    items = store.deliveries_of(db, subscription_id, state=state, limit=limit, before=before)
    return DeliveryPage(items=[DeliveryRead.of(d) for d in items],
                        next_before=items[-1].id if len(items) == limit else None)


DISABLED: dict[int | str, dict[str, Any]] = {409: conflict_response("the subscription is disabled; enable it first")}


@router.post("/{subscription_id}/deliveries/{delivery_id}/redeliver", status_code=202, response_model=DeliveryRead,
             summary="Send a delivery again (same webhook-id), with a fresh round of retries")
def redeliver(subscription_id: str, delivery_id: DeliveryId, caller: AdminAccess, db: DatabaseDep, clock: ClockDep,
              dispatcher: DispatcherDep) -> DeliveryRead:
    delivery = store.redeliver(db, subscription_id, delivery_id, utc(clock.now()))
    dispatcher.wake()
    return DeliveryRead.of(delivery)


@router.post("/{subscription_id}/test", status_code=202, response_model=DeliveryRead, responses=DISABLED,
             summary="Queue a ping (io.tocsin.ping); follow it in the deliveries")
def test(subscription_id: str, caller: AdminAccess, db: DatabaseDep, clock: ClockDep,
         dispatcher: DispatcherDep) -> DeliveryRead:
    delivery = store.enqueue_ping(db, subscription_id, utc(clock.now()))
    dispatcher.wake()
    return DeliveryRead.of(delivery)
