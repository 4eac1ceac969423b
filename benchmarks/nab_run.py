"""Run the ``anomaly`` detector over NAB-style data, one row at a time, the way NAB does.

Every ``*.csv`` (columns ``timestamp,value``) under each ``--data`` directory is streamed
through a fresh detector built from the registry: for each row, ``score`` is read before
``learn_one`` sees the row, so no score depends on its own row or on later ones. Each row
becomes a bucket that starts at the row's timestamp (naive timestamps are read as UTC) and
ends at the next expected one (the previous interval). The scores are written to
``RESULTS/<category>/<name>.csv`` (``timestamp,value,anomaly_score``, one line per input
row, in input order), where the category is the CSV's parent folder name; score them with
``benchmarks/nab_score.py``.

Cost
    The time of ``score`` + ``learn_one`` per row, measured per file; the median over the
    files (microseconds per point) is printed at the end, with the JSON size of a detector's
    snapshot after the longest file. Files run in ``--jobs`` processes (default 1, which
    gives the cleanest timing).

    .venv/bin/python benchmarks/nab_run.py --data /work/shared/nab/data --out /tmp/nab_results
"""
from __future__ import annotations

import argparse
import csv
import json
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from detectors.base import Bucket
from detectors.registry import params_for


def epoch(text: str) -> float:
    t = datetime.fromisoformat(text.strip())
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    return t.timestamp()


def read_series(path: Path) -> tuple[list[str], list[str], list[float], list[float]]:
    """Timestamps and values as written (for the output), and as numbers."""
    stamps, raw, times, values = [], [], [], []
    with path.open(newline="") as f:
        for row in csv.DictReader(f):
            stamps.append(row["timestamp"])
            raw.append(row["value"])
            times.append(epoch(row["timestamp"]))
            values.append(float(row["value"]))
    return stamps, raw, times, values


def run_file(path: Path, options: dict[str, Any]) -> tuple[list[float], float, int]:
    """Scores for every row of ``path``, seconds spent in the detector, snapshot bytes."""
    _, _, times, values = read_series(path)
    detector: Any = params_for("anomaly", options).build()
    scores = []
    step = 300.0
    clock = time.perf_counter
    spent = 0.0
    for i, (t, v) in enumerate(zip(times, values)):
        if i:
            step = max(t - times[i - 1], 1.0)
        bucket = Bucket(t, t + step, v)
        start = clock()
        s = detector.score(bucket)
        detector.learn_one(bucket)
        spent += clock() - start
        scores.append(s)
    return scores, spent, len(orjson.dumps(detector.snapshot()))


def process(job: tuple[Path, Path, dict[str, Any]]) -> tuple[str, int, float, int]:
    path, out, options = job
    scores, spent, snapshot_bytes = run_file(path, options)
    stamps, raw, _, _ = read_series(path)
    target = out / path.parent.name / path.name
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["timestamp", "value", "anomaly_score"])
        for stamp, value, score in zip(stamps, raw, scores):
            w.writerow([stamp, value, repr(score)])
    return f"{path.parent.name}/{path.name}", len(scores), spent, snapshot_bytes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, action="append", required=True,
                        help="a directory of CSV files, searched recursively (repeatable)")
    parser.add_argument("--out", type=Path, required=True, help="results directory")
    parser.add_argument("--options", default="{}", help="detector options as JSON, e.g. '{\"hold\": 20}'")
    parser.add_argument("--jobs", type=int, default=1, help="worker processes (default 1)")
    args = parser.parse_args(argv)

    options = json.loads(args.options)
    jobs = []
    for root in args.data:
        files = sorted(root.rglob("*.csv"))
        if not files:
            print(f"no CSV files under {root}", file=sys.stderr)
            return 1
        jobs += [(path, args.out, options) for path in files]
    if args.jobs > 1:
        with ProcessPoolExecutor(args.jobs) as pool:
            results = list(pool.map(process, jobs))
    else:
        results = [process(job) for job in jobs]

    per_point = [spent / n * 1e6 for _, n, spent, _ in results if n]
    rows = sum(n for _, n, _, _ in results)
    longest = max(results, key=lambda r: r[1])
    print(f"{len(results)} files, {rows} rows -> {args.out}")
    print(f"cost: median {statistics.median(per_point):.1f} us/point over files "
          f"(min {min(per_point):.1f}, max {max(per_point):.1f})")
    print(f"snapshot after {longest[0]} ({longest[1]} rows): {longest[3]} bytes as JSON")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
