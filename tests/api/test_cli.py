"""The ``tocsin`` command: replay of every file form, dead letters for every bad input,
``check-config`` and ``alerts export`` in the replay format."""
from __future__ import annotations

import gzip
import io
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest

from api.cli import main
from ingest.replay import replay
from ingest.sources.files import read_lines
from warning.settings import load_settings
from warning.storage.database import Database
from warning.storage.migrations import upgrade
from warning.timefmt import rfc3339

T0 = 1795132800.0  # 2026-11-20T00:00:00Z
TOCSIN = Path(sys.executable).with_name("tocsin")
SPEC_FIELDS = {"id", "kind", "rule", "signal", "entity", "severity", "raised_at", "response_due_at", "message",
               "evidence"}
CONFIG = """
[signals.satisfaction]
detectors = [{kind = "threshold", limit = 50, direction = "below"}]
[signals.mentions]
detectors = [{kind = "threshold", limit = 100}]
[signals.alarms]
detectors = [{kind = "threshold", limit = 10, for_buckets = 2, severity = "severe"}]
"""


def clean_events() -> Alerts:
    """Two days of hourly mentions with a 4-hour surge, five hours of alarms with a 30-minute one."""
    events = [{"id": f"m{h}", "ts": rfc3339(T0 + h * 3600 + 60), "signal": "mentions", "entity": "brand-x",
               "value": 500 if 20 <= h < 24 else 10, "labels": {"channel": "weibo"}} for h in range(48)]
    events += [{"id": f"a{i}", "ts": rfc3339(T0 + i * 300 + 10), "signal": "alarms", "entity": "svc-a",
                "value": 30 if 30 <= i < 36 else 1} for i in range(60)]
    return sorted(events, key=lambda e: e["ts"])


def jsonl(events: Alerts) -> bytes:
    return b"".join(orjson.dumps(e) + b"\n" for e in events)


def csv(events: Alerts) -> bytes:
    rows = ["id,ts,signal,entity,value,labels"]
    for e in events:
        labels = orjson.dumps(e["labels"]).decode().replace('"', '""') if "labels" in e else ""
        rows.append(f'{e["id"]},{e["ts"]},{e["signal"]},{e["entity"]},{e["value"]},"{labels}"')
    return ("\n".join(rows) + "\n").encode()


Alerts = list[dict[str, Any]]


@dataclass
class Run:
    code: int
    alerts: Alerts
    dead: Alerts
    err: str


Cli = Callable[..., Run]
Write = Callable[[str, bytes], str]


@pytest.fixture
def cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Cli:
    """``cli(*args, config=CONFIG)``: ``tocsin --config FILE *args`` in-process; reads back
    ``alerts.jsonl`` and its dead letters when the command wrote them."""
    config = tmp_path / "tocsin.toml"

    def run(*args: str, config_text: str = CONFIG) -> Run:
        config.write_text(f'data_dir = "{tmp_path / "data"}"\n{config_text}', encoding="utf-8")
        code = main(["--config", str(config), *args])
        out, dead = tmp_path / "alerts.jsonl", tmp_path / "alerts.jsonl.rejected.jsonl"
        return Run(
            code,
            [orjson.loads(line) for line in out.read_bytes().splitlines()] if out.exists() else [],
            [orjson.loads(line) for line in dead.read_bytes().splitlines()] if dead.exists() else [],
            capsys.readouterr().err,
        )

    return run


@pytest.fixture
def write(tmp_path: Path) -> Write:
    def make(name: str, data: bytes) -> str:
        (tmp_path / name).write_bytes(data)
        return str(tmp_path / name)

    return make


@pytest.fixture
def replay_file(cli: Cli, write: Write, tmp_path: Path) -> Cli:
    """``replay_file(name, data, *args)``: ``tocsin replay NAME --alerts-out alerts.jsonl *args``."""

    def run(name: str, data: bytes, *args: str) -> Run:
        return cli("replay", write(name, data) if name != "-" else "-", "--alerts-out",
                   str(tmp_path / "alerts.jsonl"), *args)

    return run


@pytest.fixture
def expected(replay_file: Cli, tmp_path: Path) -> Alerts:
    """The alerts of the clean JSONL file."""
    alerts = replay_file("clean.jsonl", jsonl(clean_events())).alerts
    (tmp_path / "alerts.jsonl").unlink()
    return alerts


# -- replay -----------------------------------------------------------------------------------


def test_replay_writes_one_line_per_alert_with_the_spec_fields(expected: Alerts) -> None:
    assert [SPEC_FIELDS - set(alert) for alert in expected] == [set(), set()]
    assert [(a["kind"], a["rule"], a["signal"], a["entity"], a["severity"], a["raised_at"], a["response_due_at"])
            for a in expected] == [
        ("threshold", "alarms.threshold", "alarms", "svc-a", "severe", "2026-11-20T02:40:00Z", "2026-11-20T08:40:00Z"),
        ("threshold", "mentions.threshold", "mentions", "brand-x", "moderate", "2026-11-20T21:00:00Z",
         "2026-11-21T03:00:00Z"),
    ]
    assert expected[1]["message"] == "value 500 above the limit 100 for 4 buckets"
    assert expected[1]["evidence"] == {
        "limit": 100.0, "direction": "above", "observed": [500.0], "buckets": 4,
        # every mention carried channel=weibo, so it carries the whole rise
        "contributors": [{"label": "channel=weibo", "observed": 500.0, "expected": 76.8127, "share": 1.0}],
    }


@pytest.mark.parametrize(("name", "encode"), [
    pytest.param("events.csv", csv, id="csv"),
    pytest.param("events.jsonl.gz", lambda e: gzip.compress(jsonl(e)), id="gzip jsonl"),
    pytest.param("events.csv.gz", lambda e: gzip.compress(csv(e)), id="gzip csv"),
    pytest.param("events.jsonl", lambda e: gzip.compress(jsonl(e)), id="gzip without its suffix"),
])
def test_replay_of_every_file_form_gives_the_same_alerts(
    replay_file: Cli, expected: Alerts, name: str, encode: Callable[[Alerts], bytes]
) -> None:
    run = replay_file(name, encode(clean_events()))

    assert (run.code, run.alerts, run.dead) == (0, expected, [])


def test_replay_reads_stdin_for_a_dash(
    replay_file: Cli, expected: Alerts, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(gzip.compress(jsonl(clean_events())))))

    run = replay_file("-", b"")

    assert (run.code, run.alerts) == (0, expected)
    assert "108 events, 108 accepted" in run.err


def bad(**fields: Any) -> bytes:
    """A mentions event at 05:00 with ``fields`` changed (``None`` removes one)."""
    body = {"id": f"bad-{len(fields)}-{sorted(fields)}", "ts": "2026-11-20T05:00:00Z", "signal": "mentions",
            "entity": "brand-x", "value": 1, **fields}
    return orjson.dumps({k: v for k, v in body.items() if v is not None})


# (case, line, what the dead letter's reason starts with): every bad input of issue 2
BAD_LINES: list[tuple[str, bytes, str]] = [
    ("not JSON", b"brand-x,42", "not valid JSON: "),
    ("array", b"[1, 2]", "an event must be a JSON object, got an array"),
    ("string", b'"brand-x"', "an event must be a JSON object, got a string"),
    ("number", b"42", "an event must be a JSON object, got a number"),
    ("null", b"null", "an event must be a JSON object, got null"),
    *[(f"missing {field}", bad(**{field: None}), f"missing field '{field}'")
      for field in ("ts", "signal", "entity", "value")],
    ("unknown field", bad(value=None, vale=1), "unknown field 'vale'"),
    ("unknown signal", bad(signal="sales"), "unknown signal 'sales'"),
    ("NaN", bad(value=12345).replace(b"12345", b"NaN"), "not valid JSON: "),
    ("Infinity", bad(value=12345).replace(b"12345", b"Infinity"), "not valid JSON: "),
    ("negative count", bad(value=-3), "value of a count signal (mentions) must be >= 0, got -3"),
    ("satisfaction outside its scale", bad(signal="satisfaction", value=140),
     "value 140 is outside the satisfaction scale [0, 100]"),
    ("timestamp without offset", bad(ts="2026-11-20T05:00:00"), "ts needs a UTC offset"),
    ("unparsable timestamp", bad(ts="20 Nov 2026"), "ts is not an RFC 3339 date-time like 2026-11-20T10:00:00Z: '20 Nov 2026'"),
    ("date-only timestamp", bad(ts="2026-11-20"), "ts is not an RFC 3339 date-time"),
    ("boolean value", bad(value=True), "value must be a number, got a boolean"),
    ("long id", bad(id="x" * 201), "id must be a string of 1-200 characters"),
    ("bad labels", bad(labels=["weibo"]), "labels must be an object of strings, got an array"),
    ("10 MB line", bad(labels={"note": "x" * (10 * 1024 * 1024)}), "event is 10485"),
]


def test_bad_lines_are_dead_lettered_and_everything_valid_is_processed(
    replay_file: Cli, expected: Alerts
) -> None:
    lines = jsonl(clean_events()).splitlines()
    mixed: list[bytes] = []
    for i, line in enumerate(lines):
        mixed.append(line)
        if i < len(BAD_LINES):
            mixed.append(BAD_LINES[i][1])
    assert len(BAD_LINES) < len(lines)

    run = replay_file("mixed.jsonl", b"\n".join(mixed) + b"\n")

    assert run.code == 0
    assert run.alerts == expected
    assert [(d["kind"], d["source"]) for d in run.dead] == [
        ("invalid", f"mixed.jsonl:{2 * i + 2}") for i in range(len(BAD_LINES))
    ]
    for letter, (case, raw, reason) in zip(run.dead, BAD_LINES):
        assert letter["reason"].startswith(reason), case
        if len(raw) < 64 * 1024:
            assert letter["raw"] == raw.decode(), case
        else:
            assert letter["raw"].startswith(raw[:1000].decode()), case
            assert letter["raw"].endswith(f"... [{len(raw) - 64 * 1024} more characters]"), case
    rejected = len(BAD_LINES)
    assert f"{len(lines) + rejected} events, {len(lines)} accepted, 0 duplicates, {rejected} rejected, 0 late" in run.err


def test_bad_csv_rows_are_dead_lettered_with_their_line(
    replay_file: Cli, expected: Alerts
) -> None:
    header, *rows = csv(clean_events()).splitlines(keepends=True)
    bad = b'x1,2026-11-20T05:00:00Z,mentions,brand-x,many,""\n'
    data = header + b"".join(rows[:10]) + bad + b"".join(rows[10:])

    run = replay_file("mixed.csv", data)

    assert run.alerts == expected
    assert run.dead == [{
        "kind": "invalid", "reason": "value must be a number, got a string", "source": "mixed.csv:12",
        "raw": '{"id":"x1","ts":"2026-11-20T05:00:00Z","signal":"mentions","entity":"brand-x","value":"many"}',
    }]


def test_duplicate_ids_are_ignored(replay_file: Cli, expected: Alerts) -> None:
    events = []
    for e in clean_events():
        events.append(e)
        if e["signal"] == "mentions" and e["value"] == 10:
            events.append({**e, "value": 10_000})  # a retry with the same id: it would fire if merged

    run = replay_file("retried.jsonl", jsonl(events))

    assert (run.alerts, run.dead) == (expected, [])
    assert "152 events, 108 accepted, 44 duplicates, 0 rejected, 0 late" in run.err


def test_an_event_far_too_late_is_dead_lettered_as_late(replay_file: Cli, expected: Alerts) -> None:
    late = {"id": "old", "ts": "2026-11-19T10:00:00Z", "signal": "mentions", "entity": "brand-x", "value": 900}

    run = replay_file("late.jsonl", jsonl([*clean_events(), late]))

    assert run.alerts == expected
    assert run.dead == [{
        "kind": "late", "source": "late.jsonl:109",
        "reason": "late: its bucket 2026-11-19T10:00:00Z closed when the series reached 2026-11-21T23:01:00Z "
                  "(allowed lateness 3600 s)",
        "raw": '{"ts":"2026-11-19T10:00:00Z","signal":"mentions","entity":"brand-x","value":900.0,"id":"old"}',
    }]


def test_dead_letters_can_go_to_a_file_of_their_own(replay_file: Cli, tmp_path: Path) -> None:
    run = replay_file("bad.jsonl", b"{}\n", "--dead-letters", str(tmp_path / "dead.jsonl"))

    assert run.dead == []
    assert orjson.loads((tmp_path / "dead.jsonl").read_bytes()) == {
        "kind": "invalid", "reason": "missing field 'ts'", "source": "bad.jsonl:1", "raw": "{}"}


@pytest.mark.parametrize(("data", "message"), [
    pytest.param(None, "No such file or directory: ", id="missing file"),
    pytest.param(gzip.compress(jsonl(clean_events()))[:200],
                 "Compressed file ended before the end-of-stream marker was reached", id="truncated gzip"),
])
def test_an_unreadable_events_file_fails_with_a_message_not_a_traceback(
    cli: Cli, write: Write, tmp_path: Path, data: bytes | None, message: str
) -> None:
    path = write("events.jsonl.gz", data) if data is not None else str(tmp_path / "absent.jsonl")

    run = cli("replay", path, "--alerts-out", str(tmp_path / "alerts.jsonl"))

    assert run.code == 2
    assert run.err.startswith("tocsin: ")
    assert message in run.err


def test_the_console_script_runs_a_replay(write: Write, tmp_path: Path,
                                          expected: Alerts) -> None:
    (tmp_path / "console.toml").write_text(CONFIG, encoding="utf-8")
    events = write("events.jsonl.gz", gzip.compress(jsonl(clean_events())))

    done = subprocess.run([str(TOCSIN), "--config", str(tmp_path / "console.toml"), "replay", events,
                           "--alerts-out", str(tmp_path / "console.jsonl")],
                          capture_output=True, text=True, timeout=60, check=False, cwd=tmp_path)

    assert (done.returncode, done.stdout) == (0, "")
    assert [orjson.loads(line) for line in (tmp_path / "console.jsonl").read_bytes().splitlines()] == expected


# -- check-config -------------------------------------------------------------------------------


def test_check_config_fails_on_an_invalid_file_with_the_key_path(cli: Cli) -> None:
    run = cli("check-config", config_text='[signals.mentions]\nbucket = "fast"\n')

    assert run.code == 2
    assert "signals.mentions.bucket: 'fast' is not a duration" in run.err


def test_check_config_accepts_a_valid_file(cli: Cli) -> None:
    run = cli("check-config")

    assert run.code == 0
    assert "signal alarms: sum per 300 s, lateness 300 s; alarms.threshold (threshold)" in run.err
    assert "database: sqlite:///" in run.err and "tocsin.db" in run.err  # the default made explicit


# -- alerts export ------------------------------------------------------------------------------


def test_alerts_export_writes_stored_alerts_in_the_replay_format(
    cli: Cli, write: Write, expected: Alerts, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'export.db'}"
    config = f'database_url = "{url}"\n{CONFIG}'
    (tmp_path / "export.toml").write_text(config, encoding="utf-8")
    settings = load_settings(tmp_path / "export.toml")
    upgrade(url)
    database = Database(settings)
    replay(read_lines(write("clean.jsonl", jsonl(clean_events()))), settings,
           on_changes=lambda changes: database.record(changes=changes))
    database.engine.dispose()

    run = cli("alerts", "export", "--out", str(tmp_path / "alerts.jsonl"), config_text=config)

    assert run.code == 0
    assert run.alerts == expected


def test_alerts_export_without_a_database_fails_with_a_message(cli: Cli, tmp_path: Path) -> None:
    run = cli("alerts", "export", "--out", str(tmp_path / "alerts.jsonl"))

    assert run.code == 2
    assert run.err.startswith("tocsin: ")
