"""Settings: one TOML file over the defaults, ``TOCSIN_*`` variables over the file, and an
invalid file failing at start with the key path and the reason."""
from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from warning.errors import ConfigError
from warning.settings import Settings, load_settings

SALES = """
[signals.sales]
aggregate = "sum"
bucket = "15m"
lateness = "1h"
resolve_after = "1d"
"""

Load = Callable[[str], Settings]


@pytest.fixture
def config_file(tmp_path: Path) -> Callable[[str], Path]:
    """``config_file(text)``: ``text`` as this test's TOML file."""

    def write(text: str) -> Path:
        path = tmp_path / "tocsin.toml"
        path.write_text(text, encoding="utf-8")
        return path

    return write


@pytest.fixture
def load(config_file: Callable[[str], Path], tmp_path: Path) -> Load:
    def run(text: str) -> Settings:
        return load_settings(config_file(text), data_dir=tmp_path / "data")

    return run


@pytest.fixture
def error(load: Load) -> Callable[[str], str]:
    """``error(text)``: the message of the ConfigError that loading ``text`` raises."""

    def run(text: str) -> str:
        with pytest.raises(ConfigError) as caught:
            load(text)
        return str(caught.value)

    return run


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No ``TOCSIN_*`` setting from the shell that runs the tests."""
    for key in list(os.environ):
        if key.startswith("TOCSIN_") and not key.startswith("TOCSIN_TEST_"):
            monkeypatch.delenv(key)


# -- invalid files --------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "message"), [
    pytest.param('[signals.mentions]\nbucket = "fast"\n',
                 "signals.mentions.bucket: 'fast' is not a duration like '30s', '5m', '1h', '1d' or '2w'",
                 id="bad duration"),
    pytest.param('[signals.mentions]\nlateness = "-1h"\n',
                 "signals.mentions.lateness: a duration cannot be negative, got '-1h'", id="negative duration"),
    pytest.param('[signals.mentions]\nlateness = "nan"\n',
                 "signals.mentions.lateness: a duration must be finite, got 'nan'", id="NaN duration"),
    pytest.param("[signals.mentions]\nresolve_after = inf\n",
                 "signals.mentions.resolve_after: a duration must be finite, got inf", id="infinite duration"),
    pytest.param("[signals.mentions]\nbucket = [1]\n",
                 "signals.mentions.bucket: a duration must be a number of seconds or a string like '5m'",
                 id="duration of the wrong type"),
    pytest.param("[signals.mentions]\nbucket = 0\n",
                 "signals.mentions: bucket must be longer than zero", id="zero bucket"),
    pytest.param('[signals.mentions]\naggregate = "median"\n',
                 "signals.mentions.aggregate: Input should be 'sum' or 'mean'", id="unknown aggregate"),
    pytest.param('[signals.mentions]\nlatenes = "2h"\n',
                 "signals.mentions.latenes: Extra inputs are not permitted", id="unknown signal key"),
    pytest.param('databse_url = "sqlite://"\n', "databse_url: Extra inputs are not permitted",
                 id="unknown top-level key"),
    pytest.param('port = "http"\n', "port: Input should be a valid integer", id="top-level value of the wrong type"),
    pytest.param("response_hours = 0\n", "response_hours: Input should be greater than 0", id="zero response clock"),
    pytest.param("response_hours_by_severity = {critical = 1}\n",
                 "response_hours_by_severity.critical.[key]: Input should be 'minor', 'moderate' or 'severe'",
                 id="unknown severity"),
    pytest.param("[signals.satisfaction]\nscale = [10, 5]\n",
                 "signals.satisfaction: scale must be [low, high] with low < high, got [10.0, 5.0]",
                 id="inverted scale"),
    pytest.param('[signals.nps]\naggregate = "mean"\nbucket = "1d"\nlateness = "1d"\nresolve_after = "7d"\n',
                 "signals.nps: a mean signal needs a scale, e.g. scale = [0, 100]", id="mean signal without scale"),
    pytest.param('[signals.sales]\nbucket = "1h"\n',
                 "signals.sales.aggregate: Field required", id="new signal missing its aggregate"),
    pytest.param('[entities.brand-x]\ncrisis_type = "pr_disaster"\n',
                 "entities.brand-x.crisis_type: Input should be 'product_defect', 'service_outage' or "
                 "'communication_failure'", id="unknown crisis type"),
    pytest.param("[signals]\nmentions = 3\n", "signals.mentions must be a table", id="signal that is not a table"),
])
def test_an_invalid_file_names_the_key_path_and_the_reason(
    error: Callable[[str], str], config_file: Callable[[str], Path], text: str, message: str
) -> None:
    assert error(text).startswith(f"{config_file('')}: {message}")


@pytest.mark.parametrize(("detectors", "message"), [
    pytest.param('{kind = "thresold", limit = 3}',
                 "detectors[0] (thresold): unknown detector kind 'thresold'; known kinds: ", id="unknown kind"),
    pytest.param('{kind = "threshold", limit = 3, for_bucket = 2}',
                 "detectors[0] (threshold): for_bucket: Extra inputs are not permitted", id="unknown parameter"),
    pytest.param('{kind = "threshold", limit = "high"}',
                 "detectors[0] (threshold): limit: Input should be a valid number", id="parameter of the wrong type"),
    pytest.param('{kind = "threshold"}', "detectors[0] (threshold): limit: Field required",
                 id="missing parameter"),
    pytest.param("{limit = 3}", "detectors[0] must be a table with a 'kind'", id="no kind"),
    pytest.param('{kind = "threshold", limit = 1}, {kind = "threshold", limit = 2}',
                 "rule names must be unique, got ['sales.threshold', 'sales.threshold']", id="two rules, one name"),
])
def test_an_invalid_detector_names_the_signal_the_rule_and_the_problem(
    error: Callable[[str], str], detectors: str, message: str
) -> None:
    assert f"signals.sales: {message}" in error(f"{SALES}detectors = [{detectors}]\n")


def test_detectors_must_be_a_list(error: Callable[[str], str]) -> None:
    assert "signals.sales: detectors must be a list of tables, each with a 'kind'" in error(
        f'{SALES}detectors = {{kind = "threshold", limit = 3}}\n'
    )


def test_every_problem_is_reported_at_once(error: Callable[[str], str]) -> None:
    message = error('port = "http"\n[signals.mentions]\nbucket = "fast"\n')

    assert "port: Input should be a valid integer" in message
    assert "signals.mentions.bucket: 'fast' is not a duration" in message


def test_bad_toml_syntax_fails_with_the_file_and_position(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text("[signals.mentions\n", encoding="utf-8")

    with pytest.raises(ConfigError, match=r"broken\.toml: not valid TOML: .*\(at line 1, column \d+\)"):
        load_settings(path)


def test_a_missing_file_fails_with_its_path(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=f"config file {tmp_path / 'absent.toml'} does not exist"):
        load_settings(tmp_path / "absent.toml")


# -- merging over the defaults --------------------------------------------------------------


def test_a_user_signal_table_is_merged_over_the_default(load: Load) -> None:
    mentions = load('[signals.mentions]\nlateness = "3h"\n').signals["mentions"]

    assert (mentions.aggregate, mentions.bucket, mentions.lateness, mentions.resolve_after) == (
        "sum", 3600.0, 3 * 3600.0, 86400.0
    )


def test_a_detectors_list_replaces_the_default_list(load: Load) -> None:
    rules = load('[signals.alarms]\ndetectors = [{kind = "threshold", limit = 9, name = "alarms.high"}]\n'
                 ).signals["alarms"].rules

    assert [(r.name, r.kind, r.params.limit) for r in rules] == [("alarms.high", "threshold", 9.0)]


def test_a_custom_signal_can_be_added(load: Load) -> None:
    settings = load(SALES + 'scale = [0, 1e6]\ndetectors = [{kind = "threshold", limit = 100}]\n')
    sales = settings.signals["sales"]

    assert sorted(settings.signals) == ["alarms", "mentions", "sales", "satisfaction"]
    assert (sales.is_count, sales.bucket, sales.lateness, sales.scale) == (True, 900.0, 3600.0, (0.0, 1e6))
    assert [(r.name, r.kind) for r in sales.rules] == [("sales.threshold", "threshold")]


def test_the_defaults_follow_the_spec(load: Load) -> None:
    settings = load("")

    assert {name: (s.aggregate, s.bucket, s.scale) for name, s in settings.signals.items()} == {
        "satisfaction": ("mean", 86400.0, (0.0, 100.0)),
        "mentions": ("sum", 3600.0, None),
        "alarms": ("sum", 300.0, None),
    }
    assert settings.response_seconds("severe") == 6 * 3600.0


def test_per_severity_response_hours(load: Load) -> None:
    settings = load("response_hours_by_severity = {severe = 2}\n")

    assert [settings.response_seconds(s) for s in ("minor", "moderate", "severe")] == [21600.0, 21600.0, 7200.0]


# -- the environment ------------------------------------------------------------------------


def test_environment_variables_beat_the_file(load: Load, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOCSIN_DATABASE_URL", "sqlite:////srv/tocsin/env.db")
    monkeypatch.setenv("TOCSIN_SIGNALS__MENTIONS__LATENESS", "2h")

    settings = load('database_url = "sqlite:////srv/tocsin/file.db"\n[signals.mentions]\nlateness = "5h"\n')

    assert settings.database_url == "sqlite:////srv/tocsin/env.db"
    assert settings.signals["mentions"].lateness == 7200.0
    assert settings.signals["mentions"].bucket == 3600.0


def test_keyword_overrides_beat_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TOCSIN_DATABASE_URL", "sqlite:////srv/tocsin/env.db")

    settings = load_settings(None, database_url="sqlite:////srv/tocsin/kw.db", data_dir=tmp_path)

    assert settings.sqlalchemy_url == "sqlite:////srv/tocsin/kw.db"


def test_the_config_file_can_come_from_the_environment(
    config_file: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOCSIN_CONFIG", str(config_file("port = 9090\n")))

    assert load_settings().port == 9090


def test_an_environment_value_is_validated_like_the_file(load: Load, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOCSIN_SIGNALS__MENTIONS__LATENESS", "soon")

    with pytest.raises(ConfigError, match="signals.mentions.lateness: 'soon' is not a duration"):
        load("")


def test_an_environment_variable_can_carry_a_toml_list(load: Load, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOCSIN_SIGNALS__ALARMS__DETECTORS", '[{kind = "threshold", limit = 5}]')

    assert [r.kind for r in load("").signals["alarms"].rules] == ["threshold"]


def test_the_default_database_is_sqlite_in_the_data_directory(load: Load, tmp_path: Path) -> None:
    assert load("").sqlalchemy_url == f"sqlite:///{tmp_path / 'data' / 'tocsin.db'}"


def test_a_custom_signal_gets_the_generic_anomaly_detector_and_bucket_based_defaults(make_settings: Any) -> None:
    settings = make_settings(signals={"cpu": {"aggregate": "mean", "bucket": "1m", "scale": [0, 100]}})

    cpu = settings.signals["cpu"]
    assert [(r.name, r.kind) for r in cpu.rules] == [("cpu.anomaly", "anomaly")]
    assert cpu.rules[0].params.threshold == 0.83
    assert (cpu.lateness, cpu.resolve_after) == (60.0, 24 * 60.0)


def test_a_custom_signal_may_opt_out_of_detection(make_settings: Any) -> None:
    settings = make_settings(signals={"cpu": {"aggregate": "sum", "bucket": "1m", "detectors": []}})

    assert settings.signals["cpu"].rules == ()
