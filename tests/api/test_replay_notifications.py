"""``tocsin replay --notifications-out``: every notice of the alerts and of the clock, on event time.

Two services send an alarm count every 5 minutes for 8 hours (00:00 to 07:55). ``svc-a``
surges at 02:30-02:55: its alert is raised at 02:40, clears at 03:05 and, nobody
responding, escalates at 05:40 (3 h); it resolves itself at 07:05 (clear for 4 h), before
its 5-hour escalation. ``svc-b`` surges at 06:40-06:55: raised at 06:50, its clock has
not reached 3 h when the events end.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from api.cli import main
from warning.timefmt import rfc3339

T0 = 1795132800.0  # 2026-11-20T00:00:00Z
CONFIG = """
[signals.alarms]
resolve_after = "4h"
detectors = [{kind = "threshold", limit = 10, for_buckets = 2}]
"""


def events() -> list[dict[str, Any]]:
    out = []
    for i in range(96):
        out.append({"id": f"a{i}", "ts": rfc3339(T0 + i * 300 + 10), "signal": "alarms", "entity": "svc-a",
                    "value": 30 if 30 <= i < 36 else 1})
        out.append({"id": f"b{i}", "ts": rfc3339(T0 + i * 300 + 20), "signal": "alarms", "entity": "svc-b",
                    "value": 30 if 80 <= i < 84 else 1})
    return out


@pytest.fixture
def replayed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[list[dict[str, Any]], str]:
    (tmp_path / "tocsin.toml").write_text(CONFIG)
    (tmp_path / "events.jsonl").write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in events()))
    code = main(["--config", str(tmp_path / "tocsin.toml"), "replay", str(tmp_path / "events.jsonl"),
                 "--alerts-out", str(tmp_path / "alerts.jsonl"), "--notifications-out", str(tmp_path / "n.jsonl")])
    assert code == 0
    notices = [orjson.loads(line) for line in (tmp_path / "n.jsonl").read_bytes().splitlines()]
    return notices, capsys.readouterr().err


def test_replay_writes_every_notice_at_the_moment_it_became_due(replayed: tuple[list[dict[str, Any]], str]) -> None:
    notices, _ = replayed

    assert [(n["entity"], n["type"], n["at"], n["elapsed_hours"]) for n in notices] == [
        ("svc-a", "alert.raised", "2026-11-20T02:40:00Z", None),
        ("svc-a", "alert.cleared", "2026-11-20T03:05:00Z", None),
        ("svc-a", "alert.escalation", "2026-11-20T05:40:00Z", 3.0),
        ("svc-b", "alert.raised", "2026-11-20T06:50:00Z", None),
        ("svc-a", "alert.resolved", "2026-11-20T07:05:00Z", None),
        ("svc-b", "alert.cleared", "2026-11-20T07:05:00Z", None),
    ]


def test_each_notice_names_its_alert_and_carries_it(replayed: tuple[list[dict[str, Any]], str]) -> None:
    notices, _ = replayed
    escalation = notices[2]

    assert escalation["id"] == f"{escalation['alert_id']}/escalation-3h"
    assert escalation["alert"]["id"] == escalation["alert_id"]
    assert escalation["alert"]["response_due_at"] == "2026-11-20T08:40:00Z"
    assert escalation["reason"].startswith("no response 3 h after the alert was raised")
    assert len({n["id"] for n in notices}) == len(notices)


def test_the_summary_counts_the_notices_not_yet_due_when_the_events_end(
    replayed: tuple[list[dict[str, Any]], str],
) -> None:
    _, err = replayed

    assert "6 notices ->" in err
    assert "(3 not yet due when the events end)" in err
