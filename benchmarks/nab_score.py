"""NAB scoring of anomaly-score files, following the rules in ../shared/nab/README.md.

What is scored
    Every ``RESULTS/<category>/<name>.csv`` (columns ``timestamp,value,anomaly_score``, as
    written by ``benchmarks/nab_run.py``) whose ``<category>/<name>.csv`` has an entry in the
    windows file. The threshold is chosen, and the score normalised, over exactly the files
    found, so a subset is scored the NAB way for that subset.

The rules, in short
    Rows of a window are the rows whose timestamp lies in ``[start, end]``. The first
    ``min(floor(0.15 n), 750)`` rows of a file are never scored: a detection there is neither
    a hit nor a false positive, and a window that ends inside them does not count. A row is a
    detection when ``anomaly_score >= threshold``. Each window scores its earliest detection
    at row ``i``: ``tpWeight * f(-(b - i + 1) / w) / f(-1)`` with ``f(x) = 2 / (1 + e^(5x)) - 1``,
    ``b`` the window's last row and ``w`` its row count, or ``-fnWeight`` without one. Each
    detected row outside every window costs ``fpWeight * f(x)`` with ``x`` the rows since the
    end of the closest preceding window over ``w - 1`` of that window, or the full
    ``-fpWeight`` when there is none or ``x > 3``. For each profile one threshold is chosen for
    all files: every distinct score value is tried (and "never detect"), and the one with the
    highest summed raw score wins. The report is ``100 * (raw - null) / (perfect - null)``.

How the search is exact and fast
    The raw score is a step function of the threshold. Lowering the threshold past a row's
    score adds that row's false-positive cost, or, in a window, moves the window's earliest
    detection to that row when it is a running maximum from the window's start. So each file
    becomes a list of (score, change) events; one sort and a cumulative sum give the raw score
    at every distinct threshold.

    .venv/bin/python benchmarks/nab_score.py --results /tmp/nab_results
"""
from __future__ import annotations

import argparse
import csv
import json
import math
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np

NAB = Path("/work/shared/nab")
PROFILE_NAMES = ("standard", "reward_low_FP_rate", "reward_low_FN_rate")


def scaled_sigmoid(x: float) -> float:
    """NAB's ``f``: 1 well before a window's end, 0 at it, -1 more than 3 widths after."""
    if x > 3.0:
        return -1.0
    return 2.0 / (1.0 + math.exp(5.0 * x)) - 1.0


def probation_rows(n: int) -> int:
    return min(math.floor(0.15 * n), 750)


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.strip())


@dataclass(frozen=True, slots=True)
class Profile:
    name: str
    tp: float
    fn: float
    fp: float


def load_profiles(path: Path = NAB / "config" / "profiles.json") -> list[Profile]:
    raw = json.loads(path.read_text())
    return [
        Profile(name, raw[name]["CostMatrix"]["tpWeight"], raw[name]["CostMatrix"]["fnWeight"],
                raw[name]["CostMatrix"]["fpWeight"])
        for name in PROFILE_NAMES
    ]


@dataclass(frozen=True, slots=True)
class LabelledFile:
    """One file's windows as inclusive row ranges, and its probation length."""

    key: str
    n: int
    probation: int
    windows: tuple[tuple[int, int], ...]  # (first row, last row), in time order

    @property
    def scored_windows(self) -> tuple[tuple[int, int], ...]:
        return tuple(w for w in self.windows if w[1] >= self.probation)


def label_file(key: str, timestamps: list[datetime], limits: list[list[str]]) -> LabelledFile:
    windows = []
    for start_text, end_text in limits:
        start, end = parse_time(start_text), parse_time(end_text)
        rows = [i for i, t in enumerate(timestamps) if start <= t <= end]
        if not rows:
            raise ValueError(f"{key}: window {start_text} .. {end_text} holds no row")
        windows.append((rows[0], rows[-1]))
    windows.sort()
    return LabelledFile(key, len(timestamps), probation_rows(len(timestamps)), tuple(windows))


def file_events(lf: LabelledFile, scores: np.ndarray, profile: Profile) -> tuple[np.ndarray, np.ndarray, float]:
    """``(scores, changes, base)``: the raw score at threshold ``t`` is ``base`` plus the
    changes of every event whose score is ``>= t``."""
    if len(scores) != lf.n:
        raise ValueError(f"{lf.key}: {len(scores)} scores for {lf.n} rows")
    f_start = scaled_sigmoid(-1.0)
    windows = lf.scored_windows
    ev_scores: list[np.ndarray] = []
    ev_changes: list[np.ndarray] = []
    base = -profile.fn * len(windows)

    in_window = np.zeros(lf.n, dtype=bool)
    for a, b in lf.windows:
        in_window[a:b + 1] = True
    for a, b in windows:
        width = b - a + 1
        first = max(a, lf.probation)
        seg = scores[first:b + 1]
        # Rows that are a strict running maximum from the window's start: lowering the
        # threshold to such a row's score makes it the earliest detection.
        running = np.maximum.accumulate(seg)
        is_record = np.ones(len(seg), dtype=bool)
        is_record[1:] = seg[1:] > running[:-1]
        rows = np.flatnonzero(is_record)
        values = np.array([profile.tp * scaled_sigmoid(-(b - (first + r) + 1) / width) / f_start
                           for r in rows])
        # From the highest record down: first hit replaces the miss, each earlier record
        # replaces the value of the one after it.
        previous = np.concatenate([values[1:], [-profile.fn]])
        ev_scores.append(seg[rows])
        ev_changes.append(values - previous)

    # False positives: every detected row past probation outside all windows.
    idx = np.arange(lf.n)
    fp_rows = idx[(idx >= lf.probation) & ~in_window]
    if len(fp_rows):
        ends = np.array([b for _, b in lf.windows], dtype=float)
        widths = np.array([b - a + 1 for a, b in lf.windows], dtype=float)
        cost = np.full(len(fp_rows), -profile.fp)
        if len(ends):
            k = np.searchsorted(ends, fp_rows, side="left") - 1  # closest window ending before
            has = k >= 0
            x = (fp_rows[has] - ends[k[has]]) / (widths[k[has]] - 1)
            cost[has] = profile.fp * np.array([scaled_sigmoid(v) for v in x])
        ev_scores.append(scores[fp_rows])
        ev_changes.append(cost)
    if not ev_scores:
        return np.empty(0), np.empty(0), base
    return np.concatenate(ev_scores), np.concatenate(ev_changes), base


@dataclass(frozen=True, slots=True)
class ProfileResult:
    profile: str
    score: float  # normalised, null = 0, perfect = 100
    threshold: float
    raw: float
    null: float
    perfect: float


def best_threshold(files: list[tuple[LabelledFile, np.ndarray]], profile: Profile) -> ProfileResult:
    all_s, all_c, base = [], [], 0.0
    n_windows = 0
    for lf, scores in files:
        s, c, b = file_events(lf, scores, profile)
        all_s.append(s)
        all_c.append(c)
        base += b
        n_windows += len(lf.scored_windows)
    s = np.concatenate(all_s) if all_s else np.empty(0)
    c = np.concatenate(all_c) if all_c else np.empty(0)
    best_raw, best_t = base, math.inf  # "never detect"
    if len(s):
        order = np.argsort(-s, kind="stable")
        s, c = s[order], c[order]
        total = base + np.cumsum(c)
        last_of_value = np.ones(len(s), dtype=bool)
        last_of_value[:-1] = s[1:] != s[:-1]
        candidates = np.flatnonzero(last_of_value)
        k = candidates[np.argmax(total[candidates])]  # first maximum: the highest threshold
        if total[k] > best_raw:
            best_raw, best_t = float(total[k]), float(s[k])
    null = -profile.fn * n_windows
    perfect = profile.tp * n_windows
    score = 100.0 * (best_raw - null) / (perfect - null) if perfect != null else 0.0
    return ProfileResult(profile.name, score, best_t, best_raw, null, perfect)


def score_at(files: list[tuple[LabelledFile, np.ndarray]], profile: Profile, threshold: float) -> ProfileResult:
    """The score with a fixed threshold instead of the best one."""
    raw, n_windows = 0.0, 0
    for lf, scores in files:
        s, c, b = file_events(lf, scores, profile)
        raw += b + float(c[s >= threshold].sum())
        n_windows += len(lf.scored_windows)
    null, perfect = -profile.fn * n_windows, profile.tp * n_windows
    score = 100.0 * (raw - null) / (perfect - null) if perfect != null else 0.0
    return ProfileResult(profile.name, score, threshold, raw, null, perfect)


def read_results(path: Path) -> tuple[list[datetime], np.ndarray]:
    timestamps, scores = [], []
    with path.open(newline="") as f:
        for row in csv.DictReader(f):
            timestamps.append(parse_time(row["timestamp"]))
            scores.append(float(row["anomaly_score"]))
    return timestamps, np.asarray(scores, dtype=float)


def load_results(results: Path, windows_path: Path) -> list[tuple[LabelledFile, np.ndarray]]:
    limits = json.loads(windows_path.read_text())
    files = []
    for path in sorted(results.rglob("*.csv")):
        key = f"{path.parent.name}/{path.name}"
        if key not in limits:
            print(f"skipping {path}: {key} has no labels", file=sys.stderr)
            continue
        timestamps, scores = read_results(path)
        files.append((label_file(key, timestamps, limits[key]), scores))
    return files


def score_all(files: list[tuple[LabelledFile, np.ndarray]],
              profiles: list[Profile] | None = None) -> list[ProfileResult]:
    return [best_threshold(files, p) for p in (profiles or load_profiles())]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, required=True, help="directory written by nab_run.py")
    parser.add_argument("--windows", type=Path, default=NAB / "labels" / "combined_windows.json")
    parser.add_argument("--profiles", type=Path, default=NAB / "config" / "profiles.json")
    parser.add_argument("--threshold", type=float,
                        help="also report the scores at this fixed threshold (e.g. the detector's own)")
    parser.add_argument("--by-category", action="store_true",
                        help="also score each category on its own (own threshold, own normalisation)")
    args = parser.parse_args(argv)

    files = load_results(args.results, args.windows)
    if not files:
        print(f"no labelled result files under {args.results}", file=sys.stderr)
        return 1
    profiles = load_profiles(args.profiles)
    n_windows = sum(len(lf.scored_windows) for lf, _ in files)
    print(f"{len(files)} files, {n_windows} windows")
    print(f"{'profile':<20} {'score':>7} {'threshold':>10} {'raw':>9} {'null':>7} {'perfect':>8}")
    for r in score_all(files, profiles):
        print(f"{r.profile:<20} {r.score:7.2f} {r.threshold:10.6g} {r.raw:9.3f} {r.null:7.1f} {r.perfect:8.1f}")
    if args.threshold is not None:
        print(f"\nat the fixed threshold {args.threshold:g}:")
        for p in profiles:
            r = score_at(files, p, args.threshold)
            print(f"{r.profile:<20} {r.score:7.2f} {r.threshold:10.6g} {r.raw:9.3f} {r.null:7.1f} {r.perfect:8.1f}")
    if args.by_category:
        categories = sorted({lf.key.split("/")[0] for lf, _ in files})
        print(f"\n{'category':<24} " + " ".join(f"{p.name:>18}" for p in profiles))
        for cat in categories:
            subset = [(lf, s) for lf, s in files if lf.key.split("/")[0] == cat]
            scores = [r.score for r in score_all(subset, profiles)]
            print(f"{cat:<24} " + " ".join(f"{v:18.2f}" for v in scores))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
