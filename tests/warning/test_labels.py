"""Label contributions: the labels behind a change, ranked deterministically."""
from __future__ import annotations

import orjson
import pytest

from warning.labels import MAX_LABELS, LabelProfile


def learned(buckets: list[dict[str, list[float]]], repeat: int = 100) -> LabelProfile:
    profile = LabelProfile()
    for _ in range(repeat):
        for labels in buckets:
            profile.learn_one(labels)
    return profile


def test_a_surge_names_the_channel_that_carries_it() -> None:
    profile = learned([{"channel=weibo": [50.0, 1.0], "channel=x": [50.0, 1.0]}])

    top = profile.contributors({"channel=weibo": [450.0, 1.0], "channel=x": [60.0, 1.0]}, is_count=True)

    assert [c["label"] for c in top] == ["channel=weibo", "channel=x"]
    assert top[0]["share"] == pytest.approx(0.975, abs=0.002)
    assert top[0]["expected"] == pytest.approx(50.0, rel=0.01)


def test_a_drop_in_a_mean_names_the_region_that_pulls_it_down() -> None:
    # Means are carried as [sum of value x count, sum of count].
    profile = learned([{"region=north": [900.0, 10.0], "region=south": [900.0, 10.0]}])

    top = profile.contributors({"region=north": [600.0, 10.0], "region=south": [890.0, 10.0]}, is_count=False)

    assert top[0]["label"] == "region=north"
    assert top[0]["observed"] == 60.0 and top[0]["expected"] == pytest.approx(90.0)
    assert top[0]["share"] == pytest.approx(0.968, abs=0.002)


def test_ties_are_broken_by_name_so_the_list_is_deterministic() -> None:
    profile = learned([{"b=1": [10.0, 1.0], "a=1": [10.0, 1.0]}])

    top = profile.contributors({"b=1": [20.0, 1.0], "a=1": [20.0, 1.0]}, is_count=True)

    assert [c["label"] for c in top] == ["a=1", "b=1"]


def test_no_rise_means_no_contributors() -> None:
    profile = learned([{"a=1": [10.0, 1.0]}])

    assert profile.contributors({"a=1": [5.0, 1.0]}, is_count=True) == []


def test_the_number_of_followed_labels_is_bounded() -> None:
    profile = LabelProfile()
    for i in range(MAX_LABELS * 3):
        profile.learn_one({f"product=p{i}": [float(i), 1.0]})

    assert len(profile.base) == MAX_LABELS
    assert "product=p47" in profile.base


def test_snapshot_round_trip() -> None:
    profile = learned([{"a=1": [10.0, 1.0]}], repeat=3)
    clone = LabelProfile()

    clone.restore(orjson.loads(orjson.dumps(profile.snapshot())))

    assert clone.base == profile.base
