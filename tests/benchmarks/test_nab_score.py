"""The NAB scorer in benchmarks/nab_score.py, checked on the README's sanity cases and
against a plain, row-by-row implementation of the rules."""
from __future__ import annotations

import importlib.util
import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import SHARED

_PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "nab_score.py"
_spec = importlib.util.spec_from_file_location("nab_score", _PATH)
assert _spec is not None and _spec.loader is not None
ns = importlib.util.module_from_spec(_spec)
sys.modules["nab_score"] = ns
_spec.loader.exec_module(ns)

NAB = SHARED / "nab"
PROFILES = [
    ns.Profile("standard", 1.0, 1.0, 0.11),
    ns.Profile("reward_low_FP_rate", 1.0, 1.0, 0.22),
    ns.Profile("reward_low_FN_rate", 1.0, 2.0, 0.11),
]


def labelled(n: int, windows: list[tuple[int, int]], key: str = "synthetic/a.csv") -> ns.LabelledFile:
    return ns.LabelledFile(key, n, ns.probation_rows(n), tuple(windows))


FILES = [
    labelled(1000, [(400, 499), (700, 799)], "synthetic/two.csv"),
    labelled(1000, [], "synthetic/none.csv"),
    labelled(600, [(20, 80), (300, 389)], "synthetic/early.csv"),  # the first window ends in probation (90 rows)
]


def scored(files: list[ns.LabelledFile], make) -> list[tuple[ns.LabelledFile, np.ndarray]]:  # type: ignore[no-untyped-def]
    return [(lf, make(lf)) for lf in files]


def f(x: float) -> float:
    return 2.0 / (1.0 + math.exp(5.0 * x)) - 1.0


def reference_raw(lf: ns.LabelledFile, scores: np.ndarray, threshold: float, p: ns.Profile) -> float:
    """The README's rules, row by row."""
    detected = [i >= lf.probation and scores[i] >= threshold for i in range(lf.n)]
    raw = 0.0
    for a, b in lf.windows:
        if b < lf.probation:
            continue
        hits = [i for i in range(a, b + 1) if detected[i]]
        if hits:
            raw += p.tp * f(-(b - hits[0] + 1) / (b - a + 1)) / f(-1.0)
        else:
            raw -= p.fn
    for i in range(lf.n):
        if not detected[i] or any(a <= i <= b for a, b in lf.windows):
            continue
        before = [(a, b) for a, b in lf.windows if b < i]
        if not before:
            raw -= p.fp
            continue
        a, b = before[-1]
        x = (i - b) / (b - a)
        raw += -p.fp if x > 3.0 else p.fp * f(x)
    return raw


@pytest.mark.parametrize("profile", PROFILES, ids=lambda p: p.name)
def test_null_detector_scores_zero(profile: ns.Profile) -> None:
    result = ns.best_threshold(scored(FILES, lambda lf: np.zeros(lf.n)), profile)
    assert result.score == 0.0
    assert result.threshold == math.inf
    assert result.null == -profile.fn * 3  # the window inside probation does not count


@pytest.mark.parametrize("profile", PROFILES, ids=lambda p: p.name)
def test_detector_firing_on_the_first_row_of_each_window_scores_100(profile: ns.Profile) -> None:
    def first_rows(lf: ns.LabelledFile) -> np.ndarray:
        s = np.zeros(lf.n)
        for a, _ in lf.scored_windows:
            s[max(a, lf.probation)] = 1.0
        return s

    files = [FILES[0], FILES[1], labelled(600, [(300, 389)])]
    result = ns.best_threshold(scored(files, first_rows), profile)
    assert result.score == pytest.approx(100.0)
    assert result.threshold == 1.0


@pytest.mark.parametrize("profile", PROFILES, ids=lambda p: p.name)
def test_always_firing_detector_is_negative(profile: ns.Profile) -> None:
    data = scored(FILES, lambda lf: np.ones(lf.n))
    fixed = ns.score_at(data, profile, 1.0)
    assert fixed.score < 0.0
    assert fixed.raw == pytest.approx(sum(reference_raw(lf, s, 1.0, profile) for lf, s in data))
    # Given the choice, the optimiser prefers never detecting.
    assert ns.best_threshold(data, profile).score == 0.0


def test_each_rule_on_one_file() -> None:
    lf = labelled(1000, [(400, 499), (700, 799)])
    p = PROFILES[0]
    s = np.zeros(lf.n)
    s[100] = 0.9  # inside probation (150 rows): ignored
    s[200] = 0.9  # before the first window: -fp
    s[449] = 0.9  # middle of window 1
    s[450] = 0.9  # a later hit in the same window: free
    s[549] = 0.9  # 50 rows after window 1 ends
    s[799] = 0.9  # last row of window 2
    expected = -p.fp + f(-51 / 100) / f(-1) + p.fp * f(50 / 99) + f(-1 / 100) / f(-1)
    events = ns.file_events(lf, s, p)
    assert events[2] + events[1][events[0] >= 0.9].sum() == pytest.approx(expected)
    assert reference_raw(lf, s, 0.9, p) == pytest.approx(expected)


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("profile", PROFILES, ids=lambda p: p.name)
def test_threshold_search_matches_trying_every_threshold(seed: int, profile: ns.Profile) -> None:
    rng = np.random.default_rng(seed)
    files = [
        labelled(800, [(200, 279), (500, 579)], "r/a.csv"),
        labelled(500, [(300, 349)], "r/b.csv"),
        labelled(900, [], "r/c.csv"),
        labelled(700, [(100, 160), (400, 469), (520, 589)], "r/d.csv"),
    ]
    # Few distinct values, so ties between rows and files are exercised too.
    data = scored(files, lambda lf: np.round(rng.random(lf.n) ** 8, 2))
    result = ns.best_threshold(data, profile)
    candidates = sorted({float(v) for _, s in data for v in s}) + [math.inf]
    raws = {t: sum(reference_raw(lf, s, t, profile) for lf, s in data) for t in candidates}
    best = max(raws.values())
    assert result.raw == pytest.approx(best)
    assert raws[result.threshold] == pytest.approx(best)


def test_perfect_detector_on_the_corpus_windows_scores_100(tmp_path: Path) -> None:
    """The real label file: window timestamps map onto rows of the data files."""
    limits = json.loads((NAB / "labels" / "combined_windows.json").read_text())
    files = []
    for path in sorted((NAB / "data").rglob("*.csv")):
        key = f"{path.parent.name}/{path.name}"
        stamps = [line.split(",")[0] for line in path.read_text().splitlines()[1:]]
        lf = ns.label_file(key, [ns.parse_time(t) for t in stamps], limits[key])
        s = np.zeros(lf.n)
        for a, _ in lf.scored_windows:
            s[max(a, lf.probation)] = 1.0
        files.append((lf, s))
    assert sum(len(lf.scored_windows) for lf, _ in files) == 83
    for result in ns.score_all(files, PROFILES):
        assert result.score == pytest.approx(100.0)
    for result in ns.score_all([(lf, np.zeros(lf.n)) for lf, _ in files], PROFILES):
        assert result.score == 0.0
