"""The simulated feed of ``tocsin demo``: calm entities, and one (``brand-x``) heading into
a crisis on all three signals at once.

Everything is a pure function of event time and a seed, so the demo is the same every
time. :func:`history` is the weeks before the demo starts, coarse (an hourly count, a
5-minute count, a daily mean) so the detectors learn their baselines from a few thousand
events; :func:`live` is one minute at a time after that, as a live feed would send it.

The crisis, relative to the demo's start ``t0`` (chosen by :func:`start_time` so that a
satisfaction day ends 20 minutes in):

- **satisfaction slide**: brand-x's daily mean falls from 88 to 81 (8 %) for the 14 days
  that end 20 minutes after ``t0``; the day that completes the second week confirms it.
- **complaint surge**: brand-x's negative mentions, 20 an hour, double every 4 h from
  ``t0 - 9 h``.
- **alarm storm**: brand-x's alarms, 3 per 5 minutes, jump to 40 at ``t0 + 10 min``.

>>> t0 = start_time(1_795_000_000.0)
>>> (t0 + 20 * 60) % DAY
0.0
>>> len([e for e in live(Scenario(t0), t0, t0 + 60) if e["entity"] == "brand-x" and e["signal"] == "alarms"])
1
"""
from __future__ import annotations

import math
import random
from collections.abc import Iterator
from typing import Any

from warning.timefmt import rfc3339

MINUTE, HOUR, DAY = 60.0, 3600.0, 86400.0
CRISIS = "brand-x"
CALM = ("acme-bank", "globex", "initech", "umbrella-air")
ENTITIES = (CRISIS, *CALM)
HISTORY = {"satisfaction": 42 * DAY, "mentions": 21 * DAY, "alarms": 3 * DAY}
SLIDE_DAYS = 14
SURGE_LEAD = 9 * HOUR  # the surge began this long before t0: its alert is raised as the demo starts
SURGE_DOUBLING = 4 * HOUR
STORM_AT = 10 * MINUTE
CONFIG: dict[str, Any] = {
    # Buckets close soon after they end, so accelerated time shows alerts within seconds.
    "signals": {"satisfaction": {"lateness": "10m"}, "mentions": {"lateness": "2m"}, "alarms": {"lateness": "1m"}},
    "clock_tick_seconds": 1.0,
}


def start_time(wall_now: float) -> float:
    """The demo's event time at start: 20 minutes before the next UTC midnight."""
    return (math.floor(wall_now / DAY) + 1) * DAY - 20 * MINUTE


class Scenario:
    def __init__(self, t0: float, seed: int = 7) -> None:
        self.t0 = t0
        self.seed = seed
        self.slide_from = t0 + 20 * MINUTE - SLIDE_DAYS * DAY

    def satisfaction(self, entity: str, t: float) -> float:
        base = 88.0 + (hash_unit(self.seed, entity, "s") - 0.5) * 6
        if entity == CRISIS and t >= self.slide_from:
            base = 81.0 + (hash_unit(self.seed, entity, "s") - 0.5) * 6
        return base

    def mentions_per_hour(self, entity: str, t: float) -> float:
        daily = 1.0 + 0.4 * math.sin(2 * math.pi * ((t % DAY) / DAY - 0.3))  # busier in the day
        level = (15.0 + 10 * hash_unit(self.seed, entity, "m")) * daily
        if entity == CRISIS and t >= self.t0 - SURGE_LEAD:
            level *= 2.0 ** ((t - (self.t0 - SURGE_LEAD)) / SURGE_DOUBLING)
        return level

    def alarms_per_5min(self, entity: str, t: float) -> float:
        if entity == CRISIS and t >= self.t0 + STORM_AT:
            return 40.0
        return 2.0 + 2 * hash_unit(self.seed, entity, "a")


def history(scenario: Scenario) -> Iterator[dict[str, Any]]:
    """The weeks before ``t0``, one event per bucket, in time order per series."""
    rng = random.Random(scenario.seed)
    t0 = scenario.t0
    for entity in ENTITIES:
        start = t0 - HISTORY["satisfaction"]
        for day in range(int(HISTORY["satisfaction"] / DAY)):
            t = start + day * DAY + 12 * HOUR
            if t < t0:
                value = scenario.satisfaction(entity, t) + rng.gauss(0, 0.8)
                yield event(entity, "satisfaction", t, round(min(100.0, value), 2), count=400)
        start = math.floor((t0 - HISTORY["mentions"]) / HOUR) * HOUR
        for hour in range(int(HISTORY["mentions"] / HOUR)):
            t = start + hour * HOUR
            if t + HOUR > t0:
                break
            yield event(entity, "mentions", t, poisson(rng, scenario.mentions_per_hour(entity, t)))
        # The hour t0 falls in is sent minute by minute, as live sends it, so its bucket is whole.
        yield from (e for e in live(scenario, math.floor(t0 / HOUR) * HOUR, t0)
                    if e["entity"] == entity and e["signal"] == "mentions")
        start = math.floor((t0 - HISTORY["alarms"]) / 300) * 300
        for step in range(int(HISTORY["alarms"] / 300)):
            t = start + step * 300
            yield event(entity, "alarms", t, poisson(rng, scenario.alarms_per_5min(entity, t)))


def live(scenario: Scenario, since: float, until: float) -> list[dict[str, Any]]:
    """Events of each whole event-minute in ``[since, until)``: mentions and alarms every
    minute, a satisfaction reading (a mean of 20 responses) every 10 minutes."""
    rng = random.Random(f"{scenario.seed}:{since}")
    out = []
    minute = math.ceil(since / MINUTE) * MINUTE
    while minute < until:
        for entity in ENTITIES:
            out.append(event(entity, "mentions", minute, poisson(rng, scenario.mentions_per_hour(entity, minute) / 60)))
            out.append(event(entity, "alarms", minute, poisson(rng, scenario.alarms_per_5min(entity, minute) / 5)))
            if minute % (10 * MINUTE) == 0:
                value = scenario.satisfaction(entity, minute) + rng.gauss(0, 3)
                out.append(event(entity, "satisfaction", minute, round(min(100.0, max(0.0, value)), 2), count=20))
        minute += MINUTE
    return out


def event(entity: str, signal: str, t: float, value: float, *, count: int | None = None) -> dict[str, Any]:
    e: dict[str, Any] = {"id": f"demo-{signal}-{entity}-{int(t)}", "ts": rfc3339(t), "signal": signal,
                         "entity": entity, "value": value}
    if count is not None:
        e["count"] = count
    return e


def poisson(rng: random.Random, mean: float) -> int:
    if mean > 50:  # normal approximation: Knuth's method slows down with the mean
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def hash_unit(seed: int, *parts: str) -> float:
    """A stable number in [0, 1) per entity (Python's ``hash`` of a str changes per process)."""
    return random.Random(":".join((str(seed), *parts))).random()
