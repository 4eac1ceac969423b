"""Series memory: bytes of detector and bucket state per series, with 100 000 series.

What is measured
    A :class:`warning.pipeline.Pipeline` (default settings unless ``--config``) is fed one
    event per bucket for ``--series`` series (entities x configured signals), long enough to
    warm up every detector (its ``warmup_*`` parameter, plus ``--after-warmup`` buckets, and at
    least ``--min-buckets``: sustained_drop needs six weeks of daily means and has no such
    parameter).
    ``--anomalous`` of the entities get a crisis in those last buckets (a drop, an exponential
    surge, an alarm surge), so some series hold open alerts; the last buckets of every series
    are left open. Then, per series:

    * ``grown``: the deep size of the live state (``sys.getsizeof`` over every object
      reachable from ``pipeline.series``, each object once, leaving out what all series share:
      settings, rule parameters and contexts, classes). This is the state as the feed built it.
    * ``tracemalloc``: the traced bytes allocated while a fresh pipeline restores every series
      from its own JSON snapshot (what a restarted service holds), divided by the series count.
    * ``snapshot``: ``len(orjson.dumps(series.snapshot()))``, what each series costs in the
      snapshot table and on the wire.

How to read it
    The goal (issue 2) is <= 4 KiB (4096 bytes) per series for ``grown`` and ``tracemalloc``;
    the breakdown by type shows where the bytes are. tracemalloc is not left on during the feed
    because it slows allocation about sevenfold.

    .venv/bin/python benchmarks/series_memory.py                 # 100 000 series, a few minutes
    .venv/bin/python benchmarks/series_memory.py --series 6000   # quick look
"""
from __future__ import annotations

import argparse
import gc
import math
import random
import sys
import time
import tracemalloc
from collections import Counter
from collections.abc import Iterable
from typing import Any

import orjson

from warning.events import Event
from warning.pipeline import Pipeline
from warning.settings import SignalConfig, load_settings

T0 = 1_735_689_600.0  # 2025-01-01T00:00:00Z, a Wednesday
VARIANTS = 64  # distinct noise sequences, shared round robin by the entities


def warmup_seconds(cfg: SignalConfig) -> float:
    """The longest warm-up of the signal's rules, read from their ``warmup_*`` parameters."""
    longest = 0.0
    for rule in cfg.rules:
        for name, value in vars(rule.params).items():
            if not name.startswith("warmup_") or not isinstance(value, (int, float)):
                continue
            unit = name.removeprefix("warmup_")
            seconds = {"hours": 3600.0, "days": 86400.0, "minutes": 60.0, "seconds": 1.0,
                       "buckets": cfg.bucket}.get(unit)
            if seconds is not None:
                longest = max(longest, float(value) * seconds)
    return longest


def normal_values(cfg: SignalConfig, n_buckets: int, rng: random.Random) -> list[float]:
    """One noisy series with daily and weekly seasonality in the signal's unit."""
    values = []
    for k in range(n_buckets):
        start = T0 + k * cfg.bucket
        hour = (start % 86400.0) / 3600.0
        day = int(start // 86400.0 + 3) % 7
        if cfg.is_count:
            mean = 6.0 * (1.0 + 0.6 * math.sin(2 * math.pi * (hour - 9) / 24)) * (0.7 if day >= 5 else 1.0)
            values.append(float(_poisson(rng, mean * rng.uniform(0.8, 1.25))))  # overdispersed
        else:
            low, high = cfg.scale or (0.0, 100.0)
            mid = low + 0.85 * (high - low)
            values.append(round(min(high, max(low, rng.gauss(mid - (1.5 if day >= 5 else 0.0), 1.2))), 2))
    return values


def crisis_values(cfg: SignalConfig, normal: list[float], crisis_buckets: int) -> list[float]:
    """The same series with a crisis in its last ``crisis_buckets`` buckets."""
    values = list(normal)
    onset = len(values) - crisis_buckets
    for i in range(onset, len(values)):
        step = i - onset
        if not cfg.is_count:
            values[i] = round(values[i] * 0.7, 2)  # a 30 % drop
        elif cfg.bucket >= 3600.0:
            values[i] = float(round(values[i] * 2.0 ** min(step / 3.0, 8.0)))  # doubling every 3 buckets
        else:
            values[i] = float(round(values[i] * 15.0 + 20.0))  # an alarm surge
    return values


def _poisson(rng: random.Random, mean: float) -> int:
    # Knuth's method; the means here are small.
    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def feed(pipeline: Pipeline, entities: list[str], anomalous: set[int], after_warmup: int,
         min_buckets: int, rng: random.Random) -> tuple[int, int]:
    """Feed every configured signal of every entity; returns (events, alert changes)."""
    events = changes = 0
    for signal, cfg in pipeline.settings.signals.items():
        n_buckets = max(math.ceil(warmup_seconds(cfg) / cfg.bucket) + after_warmup, min_buckets)
        normal = [normal_values(cfg, n_buckets, rng) for _ in range(VARIANTS)]
        crisis = [crisis_values(cfg, v, min(after_warmup, n_buckets // 3)) for v in normal]
        # Every event sits in the middle of its bucket: with a lateness of at least half a
        # bucket, the newest bucket or two of each series stay open at the end.
        for k in range(n_buckets):
            ts = T0 + (k + 0.5) * cfg.bucket
            batch = [
                Event(signal, entity, ts, (crisis if j in anomalous else normal)[j % VARIANTS][k])
                for j, entity in enumerate(entities)
            ]
            changes += len(pipeline.process(batch).changes)
            events += len(batch)
        print(f"  fed {signal}: {n_buckets} buckets x {len(entities):,} entities", file=sys.stderr)
    return events, changes


def deep_size(roots: Iterable[Any], shared: Iterable[Any]) -> tuple[int, Counter[str]]:
    """Bytes of every object reachable from ``roots`` but not from ``shared``, by type."""
    seen: set[int] = set()
    stack = list(shared)
    while stack:  # mark what every series shares (configuration, classes, singletons)
        obj = stack.pop()
        if id(obj) not in seen:
            seen.add(id(obj))
            stack.extend(gc.get_referents(obj))
    by_type: Counter[str] = Counter()
    stack = list(roots)
    while stack:
        obj = stack.pop()
        if id(obj) in seen or isinstance(obj, type):
            continue
        seen.add(id(obj))
        by_type[type(obj).__name__] += sys.getsizeof(obj)
        stack.extend(gc.get_referents(obj))
    return sum(by_type.values()), by_type


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--config", help="tocsin configuration file (default: the built-in defaults)")
    parser.add_argument("--series", type=int, default=100_000, help="number of series (default: 100 000)")
    parser.add_argument("--after-warmup", type=int, default=48,
                        help="buckets fed after the longest warm-up of each signal (default: 48)")
    parser.add_argument("--min-buckets", type=int, default=64,
                        help="buckets fed to every series at least (default: 64)")
    parser.add_argument("--anomalous", type=float, default=0.05,
                        help="fraction of entities with a crisis at the end (default: 0.05)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    settings = load_settings(args.config)
    rng = random.Random(args.seed)
    n_entities = math.ceil(args.series / len(settings.signals))
    entities = [f"entity-{i:06d}" for i in range(n_entities)]
    anomalous = set(rng.sample(range(n_entities), int(args.anomalous * n_entities)))

    pipeline = Pipeline(settings)
    started = time.perf_counter()
    events, changes = feed(pipeline, entities, anomalous, args.after_warmup, args.min_buckets, rng)
    elapsed = time.perf_counter() - started
    n_series = len(pipeline.series)
    open_buckets = sum(1 for s in pipeline.series.values() if s.window.open)
    open_alerts = sum(1 for s in pipeline.series.values() for t in s.tracks if t.alert is not None)
    print(f"{n_series:,} series ({n_entities:,} entities x {len(settings.signals)} signals; "
          f"config: {args.config or 'defaults'}): {events:,} events in {elapsed:.0f} s, {changes:,} alert changes")
    print(f"series with open buckets: {open_buckets:,}; open alerts: {open_alerts:,}")

    gc.collect()
    shared = [settings, pipeline._contexts, pipeline.settings.signals, None, True, False]
    grown, by_type = deep_size(pipeline.series.values(), shared)
    # The dict of series itself, with its (signal, entity) keys, is part of holding the series.
    grown_total, _ = deep_size([pipeline.series], shared)
    print(f"grown        {grown_total / n_series:8,.0f} bytes/series   (of which {grown / n_series:,.0f} in the "
          f"Series objects; the rest is the series map and its keys)")
    top = ", ".join(f"{name} {size / n_series:,.0f}" for name, size in by_type.most_common(8))
    print(f"             by type, bytes/series: {top}")

    snapshots = {key: orjson.dumps(series.snapshot()) for key, series in pipeline.series.items()}
    sizes = sorted(len(b) for b in snapshots.values())
    print(f"snapshot     {sum(sizes) / n_series:8,.0f} bytes/series   (JSON; median {sizes[len(sizes) // 2]:,}, "
          f"max {sizes[-1]:,})")
    del pipeline
    gc.collect()

    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    restored = Pipeline(settings)
    restored.restore({key: orjson.loads(blob) for key, blob in snapshots.items()})
    gc.collect()
    traced = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    print(f"tracemalloc  {traced / n_series:8,.0f} bytes/series   (restored from the snapshots; goal <= 4096)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
