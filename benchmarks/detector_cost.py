"""Cost per bucket of each detector kind, and its state size per series.

    .venv/bin/python benchmarks/detector_cost.py [--buckets 20000] [--repeat 5]

For every registered kind, one detector is fed a seeded synthetic series suited to it
(hourly counts with a daily cycle for count detectors, daily means for
``sustained_drop``), calling ``score_one`` then ``learn_one`` per bucket as the pipeline
does. Prints the median microseconds per bucket over ``--repeat`` runs and the size of
the detector's snapshot (orjson bytes) after the run. Read the figures as medians on a
noisy 2-core machine: compare kinds with each other, not with another machine.
"""
from __future__ import annotations

import argparse
import math
import random
import statistics
import time

import orjson

from detectors.base import Bucket
from detectors.registry import kinds, params_for

PARAMS = {"threshold": {"limit": 1e9}}
MEAN_KINDS = {"sustained_drop"}


def series(kind: str, n: int, seed: int = 7) -> list[Bucket]:
    rng = random.Random(seed)
    if kind in MEAN_KINDS:
        day = 86400.0
        return [Bucket(i * day, (i + 1) * day, 88 + rng.gauss(0, 1.5), 40.0) for i in range(n)]
    width = 3600.0
    out = []
    for i in range(n):
        rate = 50 * (1 + 0.5 * math.sin(2 * math.pi * (i % 24) / 24))
        out.append(Bucket(i * width, (i + 1) * width, float(_poisson(rng, rate)), 1.0))
    return out


def _poisson(rng: random.Random, lam: float) -> int:
    return max(0, round(rng.gauss(lam, math.sqrt(lam))))


def cost(kind: str, buckets: list[Bucket]) -> tuple[float, int]:
    detector = params_for(kind, PARAMS.get(kind, {})).build()
    started = time.perf_counter()
    for bucket in buckets:
        detector.score_one(bucket)
        detector.learn_one(bucket)
    elapsed = time.perf_counter() - started
    return elapsed / len(buckets) * 1e6, len(orjson.dumps(detector.snapshot()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--buckets", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print(f"{'kind':<20} {'us/bucket (median)':>20} {'snapshot bytes':>16}")
    for kind in kinds():
        buckets = series(kind, args.buckets)
        runs = [cost(kind, buckets) for _ in range(args.repeat)]
        print(f"{kind:<20} {statistics.median(r[0] for r in runs):>20.2f} {runs[-1][1]:>16}")


if __name__ == "__main__":
    main()
