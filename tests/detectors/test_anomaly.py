"""The generic ``anomaly`` detector: behaviour on typical shapes, calibration, and state."""
from __future__ import annotations

import math
import random
import tracemalloc
from collections.abc import Callable

import orjson
import pytest

from detectors.anomaly import Anomaly, Params, TailScorer
from detectors.base import Bucket
from detectors.registry import params_for

FIVE_MINUTES = 300.0


def buckets(values: list[float | None], step: float = FIVE_MINUTES) -> list[Bucket]:
    return [Bucket(i * step, (i + 1) * step, v) for i, v in enumerate(values)]


def run(det: Anomaly, stream: list[Bucket]) -> list[float]:
    """The score of every bucket, each read before the bucket is learned."""
    scores = []
    for bucket in stream:
        scores.append(det.score(bucket))
        det.learn_one(bucket)
    return scores


def findings_at(det: Anomaly, stream: list[Bucket]) -> list[int]:
    fired = []
    for i, bucket in enumerate(stream):
        if det.score_one(bucket) is not None:
            fired.append(i)
        det.learn_one(bucket)
    return fired


def noisy_sine(n: int, seed: int = 0, spike_at: int | None = None) -> list[float | None]:
    rng = random.Random(seed)
    values: list[float | None] = []
    for i in range(n):
        v = 50.0 + 10.0 * math.sin(2 * math.pi * i / 288) + rng.gauss(0.0, 1.0)
        values.append(v + (15.0 if i == spike_at else 0.0))
    return values


def daily_counts(n: int, seed: int = 0) -> list[float | None]:
    """Five-minute counts with a daily cycle, a surge and a few gaps: exercises every part."""
    rng = random.Random(seed)
    values: list[float | None] = []
    for i in range(n):
        lam = 20.0 * (1.5 + math.sin(2 * math.pi * i / 288)) * (4.0 if 1500 <= i < 1520 else 1.0)
        values.append(None if i % 997 == 0 else float(sum(rng.random() < lam / 200 for _ in range(200))))
    return values


def test_a_spike_in_a_noisy_sine_scores_near_one_and_the_rest_near_zero() -> None:
    scores = run(Params().build(), buckets(noisy_sine(3000, spike_at=2500)))
    assert scores[2500] >= 0.9
    normal = scores[300:2500]
    assert sorted(normal)[len(normal) // 2] < 0.05
    assert sum(s >= 0.5 for s in normal) <= 0.005 * len(normal)


def test_a_flat_line_never_alarms() -> None:
    scores = run(Params().build(), buckets([7.0] * 3000))
    assert max(scores) == 0.0


def test_a_step_out_of_a_flat_line_fires_once_then_is_the_new_normal() -> None:
    stream = buckets([5.0] * 1000 + [6.0] * 2000)
    assert findings_at(Params().build(), stream) == [1000]


def test_a_step_change_is_detected_at_once_then_adapted_to() -> None:
    rng = random.Random(3)
    values: list[float | None] = [100.0 + rng.gauss(0.0, 2.0) + (30.0 if i >= 1500 else 0.0) for i in range(4000)]
    det = Params(threshold=0.67).build()
    fired = findings_at(det, buckets(values))
    assert fired and 1500 <= fired[0] <= 1502
    assert [i for i in fired if i >= 2500] == []


def test_the_hold_silences_the_buckets_after_a_detection() -> None:
    values = noisy_sine(2000, spike_at=1500)
    values[1510] = (values[1510] or 0.0) + 15.0  # a second spike inside the hold
    det = Params(hold=30).build()
    scores = run(det, buckets(values))
    assert scores[1500] >= 0.9
    assert scores[1501:1531] == [0.0] * 30
    unheld = run(Params(hold=0).build(), buckets(values))
    assert unheld[1510] >= 0.5


@pytest.mark.parametrize(
    ("threshold", "per_thousand"),
    [pytest.param(0.5, 1.0, id="0.5 = 1e-3"), pytest.param(0.67, 0.1, id="0.67 = 1e-4")],
)
def test_alarm_rate_on_gaussian_noise_matches_the_calibration(threshold: float, per_thousand: float) -> None:
    alarms = points = 0
    for seed in range(10):
        rng = random.Random(seed)
        scores = run(Params(threshold=threshold).build(), buckets([rng.gauss(0.0, 1.0) for _ in range(3000)]))
        alarms += sum(s >= threshold for s in scores[200:])
        points += len(scores) - 200
    assert alarms / points * 1000 <= 2.5 * per_thousand


def test_scores_stay_in_0_1_and_state_stays_plain_json_on_hostile_input() -> None:
    rng = random.Random(5)
    weird = [0.0, -0.0, 1e300, -1e300, math.nan, math.inf, -math.inf, None, 5e-324, 1e-300]
    values: list[float | None] = []
    for i in range(4000):
        if i % 37 == 0:
            values.append(weird[(i // 37) % len(weird)])
        else:
            values.append(math.exp(rng.gauss(0.0, 3.0)) * (-1 if i % 5 == 0 else 1))
    det = Params().build()
    for bucket in buckets(values):
        s = det.score(bucket)
        assert 0.0 <= s <= 1.0
        finding = det.score_one(bucket)
        if finding is not None:
            orjson.dumps(finding.evidence)
        det.learn_one(bucket)
        state = orjson.loads(orjson.dumps(det.snapshot()))
        assert all(math.isfinite(v) for v in state[2][0] + state[2][1] + state[2][2])


def test_runs_are_deterministic() -> None:
    stream = buckets(daily_counts(3000))
    assert run(Params().build(), stream) == run(Params().build(), stream)


@pytest.mark.parametrize("cut", [1, 60, 400, 1500, 1501, 1510, 2999])
def test_restore_mid_stream_continues_like_an_uninterrupted_run(cut: int) -> None:
    stream = buckets(daily_counts(3000))
    whole = run(Params().build(), stream)
    first = Params().build()
    run(first, stream[:cut])
    second = Params().build()
    second.restore(orjson.loads(orjson.dumps(first.snapshot())))
    assert run(second, stream[cut:]) == whole[cut:]


def test_restore_rejects_another_state_version() -> None:
    det = Params().build()
    state = det.snapshot()
    state[0] = 99
    with pytest.raises(ValueError, match="version"):
        det.restore(state)


def test_scoring_and_explaining_change_nothing() -> None:
    det = Params().build()
    for bucket in buckets(daily_counts(2000)):
        before = orjson.dumps(det.snapshot())
        first = det.score(bucket), det.score_one(bucket), det.explain(bucket)
        assert (det.score(bucket), det.score_one(bucket), det.explain(bucket)) == first
        assert orjson.dumps(det.snapshot()) == before
        det.learn_one(bucket)


def test_snapshot_size_is_bounded() -> None:
    short, long = Params().build(), Params().build()
    run(short, buckets(daily_counts(2000)))
    run(long, buckets(daily_counts(30000, seed=1)))
    size = len(orjson.dumps(long.snapshot()))
    assert size < 2048
    assert size <= len(orjson.dumps(short.snapshot())) + 128  # digits, not entries


def test_memory_per_series_stays_under_4_kib() -> None:
    warm = Params().build()
    run(warm, buckets(daily_counts(1500)))
    state = orjson.loads(orjson.dumps(warm.snapshot()))
    params = Params()  # shared by every series of a rule
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        dets = []
        for _ in range(200):
            det = params.build()
            det.restore(orjson.loads(orjson.dumps(state)))  # own floats, as after live learning
            dets.append(det)
        per_series = (tracemalloc.get_traced_memory()[0] - before) / len(dets)
    finally:
        tracemalloc.stop()
    assert per_series < 4096


def test_finding_and_explanation_say_why() -> None:
    det = Params().build()
    stream = buckets(noisy_sine(2000, spike_at=1500))
    run(det, stream[:1500])
    explained = det.explain(stream[1500])
    finding = det.score_one(stream[1500])
    assert finding is not None and explained["fires"] is True
    assert finding.evidence["score"] == explained["score"] >= 0.9
    assert finding.evidence["model"] == "tail-scorer"
    assert explained["why"].startswith("fires: ")
    assert "\n" not in finding.message
    det.learn_one(stream[1500])
    assert det.explain(stream[1501])["why"].startswith("holding: ")
    assert Params().build().explain(stream[0])["why"].startswith("warming up")


def test_the_model_is_a_river_anomaly_detector() -> None:
    values = noisy_sine(2000, spike_at=1500)
    model = TailScorer()
    # (detectors/anomaly.py is the one module that imports river.)
    assert "river.base.anomaly_detector.AnomalyDetector" in {
        f"{c.__module__}.{c.__qualname__}" for c in type(model).__mro__
    }
    scores = []
    for i, v in enumerate(values):
        x = {"y": v, "t": i * FIVE_MINUTES}
        scores.append(model.score_one(x))
        model.learn_one(x)
    # Without a hold, the Tocsin detector's scores are the river model's.
    assert scores == run(Params(hold=0).build(), buckets(values))
    assert model.clone().n == 0


def test_params_are_validated() -> None:
    with pytest.raises(ValueError, match="threshold"):
        params_for("anomaly", {"threshold": 1.5})
    with pytest.raises(ValueError, match="no_such_option"):
        params_for("anomaly", {"no_such_option": 1})
    assert params_for("anomaly", {"hold": 10, "seasonal": False}).build().kind == "anomaly"


@pytest.mark.parametrize("make", [noisy_sine, daily_counts], ids=["sine", "counts"])
def test_learning_without_scoring_learns_the_same(make: Callable[[int], list[float | None]]) -> None:
    stream = buckets(make(1500))
    scored, unscored = Params().build(), Params().build()
    for bucket in stream:
        scored.score_one(bucket)
        scored.learn_one(bucket)
        unscored.learn_one(bucket)
    assert scored.snapshot() == unscored.snapshot()
