"""Storage fixtures: the ``database`` of the root conftest, with signals that do not matter here.

Storage is indifferent to which detectors run, so the settings behind ``database`` watch every
default signal with the static ``threshold`` rule only. That keeps these tests independent of
the seed detectors (which have their own suite).
"""
from __future__ import annotations

from typing import Any

import pytest

THRESHOLD_SIGNALS: dict[str, Any] = {
    name: {"detectors": [{"kind": "threshold", "limit": 10, "for_buckets": 2}]}
    for name in ("satisfaction", "mentions", "alarms")
}


@pytest.fixture
def make_settings(make_settings: Any) -> Any:
    def make(**overrides: Any) -> Any:
        overrides.setdefault("signals", THRESHOLD_SIGNALS)
        return make_settings(**overrides)

    return make
