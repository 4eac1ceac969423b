"""Settings: one TOML file, overridden by ``TOCSIN_*`` environment variables.

Precedence, highest first: keyword arguments, environment (``TOCSIN_DATABASE_URL``,
nested keys joined by ``__`` as in ``TOCSIN_SIGNALS__MENTIONS__LATENESS=2h``), the TOML file
(``--config`` or ``TOCSIN_CONFIG``), then the defaults below. The user's ``signals``
table is merged key by key over the default signals, so overriding one parameter of
``mentions`` keeps the rest; a ``detectors`` list replaces the default list whole.

An invalid file fails at start with the key path and the reason
(:class:`warning.errors.ConfigError`). Settings are built once and passed in; nothing
reads them as a module global.
"""
from __future__ import annotations

import copy
import ipaddress
import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from detectors.base import Params
from detectors.registry import params_for
from warning.access import check_open_host
from warning.errors import ConfigError
from warning.timefmt import parse_duration
from warning.watchdog import WatchdogConfig

Seconds = float

DEFAULT_SIGNALS: dict[str, dict[str, Any]] = {
    "satisfaction": {
        "aggregate": "mean", "bucket": "1d", "lateness": "1d", "scale": [0, 100],
        "resolve_after": "14d", "detectors": [{"kind": "sustained_drop"}], "watchdog": {"min_silence": "3d"},
    },
    "mentions": {
        "aggregate": "sum", "bucket": "1h", "lateness": "1h",
        "resolve_after": "1d", "detectors": [{"kind": "exponential_growth"}], "watchdog": {"min_silence": "6h"},
    },
    "alarms": {
        "aggregate": "sum", "bucket": "5m", "lateness": "5m",
        "resolve_after": "2h", "detectors": [{"kind": "rate_surge"}], "watchdog": {"min_silence": "1h"},
    },
}

CRISIS_TYPES = ("product_defect", "service_outage", "communication_failure")


class Rule(BaseModel):
    """One detector configured on a signal. ``name`` defaults to ``<signal>.<kind>``."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    name: str
    kind: str
    params: Any
    crisis_type: Literal["product_defect", "service_outage", "communication_failure"] | None = None

    def build(self) -> Any:
        return self.params.build()


class SignalConfig(BaseModel):
    """How one signal is bucketed and which rules watch it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = ""
    aggregate: Literal["sum", "mean"]
    bucket: Seconds = Field(description="bucket width, e.g. '5m', '1h', '1d'")
    lateness: Seconds = Field(description="how long after a bucket ends its events are still merged")
    scale: tuple[float, float] | None = None
    resolve_after: Seconds = Field(
        description="an alert nobody has touched resolves itself once its condition has been clear this long"
    )
    rules: tuple[Rule, ...] = ()
    watchdog: WatchdogConfig = Field(default_factory=WatchdogConfig)

    @field_validator("bucket", "lateness", "resolve_after", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> float:
        return parse_duration(value)

    @model_validator(mode="before")
    @classmethod
    def _rules(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        if "bucket" in data:  # custom signals: lateness one bucket, resolve after a day of buckets
            data.setdefault("lateness", data["bucket"])
            try:
                data.setdefault("resolve_after", 24 * parse_duration(data["bucket"]))
            except ValueError:
                pass  # the bucket field itself reports it, with its key path
        raw = data.pop("detectors", [])
        if not isinstance(raw, list):
            raise ValueError("detectors must be a list of tables, each with a 'kind'")
        rules = []
        for i, entry in enumerate(raw):
            rules.append(_rule(data.get("name", ""), i, entry))
        data["rules"] = tuple(rules)
        return data

    @model_validator(mode="after")
    def _check(self) -> SignalConfig:
        if self.bucket <= 0:
            raise ValueError("bucket must be longer than zero")
        if self.aggregate == "mean" and self.scale is None:
            raise ValueError("a mean signal needs a scale, e.g. scale = [0, 100]")
        if self.scale is not None and not self.scale[0] < self.scale[1]:
            raise ValueError(f"scale must be [low, high] with low < high, got {list(self.scale)}")
        names = [r.name for r in self.rules]
        if len(set(names)) != len(names):
            raise ValueError(f"rule names must be unique, got {names}")
        return self

    @property
    def is_count(self) -> bool:
        return self.aggregate == "sum"


def _rule(signal: str, index: int, entry: Any) -> Rule:
    if not isinstance(entry, dict) or "kind" not in entry:
        raise ValueError(f"detectors[{index}] must be a table with a 'kind'")
    options = dict(entry)
    kind = options.pop("kind")
    name = options.pop("name", f"{signal}.{kind}")
    crisis_type = options.pop("crisis_type", None)
    try:
        params: Params = params_for(kind, options)
    except (ValidationError, ValueError) as exc:
        raise ValueError(f"detectors[{index}] ({kind}): {_short(exc)}") from None
    return Rule(name=name, kind=kind, params=params, crisis_type=crisis_type)


class EntityConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    crisis_type: Literal["product_defect", "service_outage", "communication_failure"] | None = None


class Settings(BaseModel):
    """Everything Tocsin reads at start-up. See the README for each default."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    data_dir: Path = Path("data")
    database_url: str = Field("", description="SQLAlchemy URL; empty means SQLite in data_dir")
    host: str = "127.0.0.1"
    port: int = 8080
    # Who may do what (warning/access.py): API keys, or everyone as "local" on a loopback host only.
    auth: Literal["keys", "open"] = Field("keys", description="'keys': Bearer API keys; 'open': no keys, loopback only")
    max_body_bytes: int = Field(10 * 1024 * 1024, gt=0, description="larger POST bodies answer 413")
    max_event_bytes: int = Field(64 * 1024, gt=0, description="larger single events are rejected")
    response_hours: float = Field(6.0, gt=0, description="the response clock: response_due_at = raised_at + this")
    response_hours_by_severity: dict[Literal["minor", "moderate", "severe"], float] = {}
    escalation_hours: tuple[float, ...] = Field(
        (3.0, 5.0), description="escalation notices this long after an alert was raised without a response")
    clock_tick_seconds: float = Field(5.0, gt=0, description="how often the live service sends due notices")
    # Crises (warning/crises.py): an alert joins an entity's crisis when raised within this of its last activity.
    crisis_gap_hours: float = Field(6.0, ge=0, description="how long after a crisis' last activity an alert still joins it")
    bucket_retention_days: float = Field(90.0, gt=0, description="closed buckets older than this are pruned")
    seen_ids_retention_days: float = Field(7.0, gt=0, description="how long accepted event ids are remembered")
    max_seen_ids: int = Field(1_000_000, gt=0, description="bound on ids remembered in memory by a replay")
    # Live ingest (ingest/live.py): series state is checkpointed this often; batches in between are journaled.
    ingest_checkpoint_seconds: float = Field(
        5.0, ge=0, description="how often the live service stores series state (a restart replays the batches since)")
    ingest_checkpoint_events: int = Field(
        200_000, gt=0, description="a checkpoint is also due once this many events were journaled since the last")
    # Metrics (warning/scrape_metrics.py): the per-entity early-warning gauges are bounded.
    metrics_max_entities: int = Field(
        300, gt=0, description="entities with early-warning gauges on /metrics: open alerts first, then most recent")
    metrics_refresh_seconds: float = Field(
        15.0, ge=0, description="how often at most a series' early-warning state is re-read from its rules")
    # Webhooks (warning/notify/): subscribers are configured over the API, so their targets are policed.
    webhook_allow_private: bool = Field(False, description="allow loopback and private-range webhook targets")
    webhook_allowed_networks: tuple[str, ...] = Field(
        (), description="CIDRs webhook targets may use whatever else the policy says (e.g. a link-local sidecar)")
    webhook_denied_networks: tuple[str, ...] = Field((), description="CIDRs webhook targets may never use")
    webhook_timeout_seconds: float = Field(10.0, gt=0, description="one delivery attempt's time limit")
    webhook_poll_seconds: float = Field(1.0, gt=0, description="how often the dispatcher looks for due deliveries")
    webhook_max_in_flight: int = Field(4, gt=0, description="concurrent attempts per subscription")
    # Kafka (ingest/kafka/): `tocsin worker`, and where `ingest_mode = "kafka"` publishes HTTP events.
    ingest_mode: Literal["embedded", "kafka"] = Field(
        "embedded", description="'embedded': HTTP events are processed in-process; 'kafka': published to kafka_topics")
    kafka_bootstrap: str = Field("localhost:9092", description="comma-separated host:port of the brokers")
    kafka_topics: tuple[str, ...] = Field(("tocsin.events",), min_length=1, description="topics a worker consumes")
    kafka_group: str = Field("tocsin", min_length=1, description="the workers' consumer group")
    kafka_dead_letter_topic: str = Field("tocsin.dead-letters", min_length=1, description="where bad events go")
    kafka_checkpoint_seconds: float = Field(
        1.0, gt=0, description="how often a worker commits alerts and partition state (and replays at most after a crash)")
    kafka_session_timeout_ms: int = Field(
        10_000, ge=1000, description="consumer group session; heartbeats every third of it")
    # Alertmanager (warning/notify/alertmanager.py, ingest/sources/alertmanager.py): alerts out, its webhook in.
    alertmanager_url: str = Field("", pattern=r"^(https?://\S+)?$",
                                  description="Alertmanager's base URL (http://host:9093); empty: no forwarding")
    alertmanager_resend_seconds: float = Field(
        60.0, gt=0, description="how often open alerts are re-sent to Alertmanager (under its resolve_timeout)")
    alertmanager_entity_labels: tuple[str, ...] = Field(
        ("service",), min_length=1, description="webhook alerts count for the entity named by the first of these")
    public_url: str = Field("", pattern=r"^(https?://\S+)?$",
                            description="where users reach Tocsin, for links sent out; empty: http://host:port")
    signals: dict[str, SignalConfig] = {}
    entities: dict[str, EntityConfig] = {}

    @model_validator(mode="before")
    @classmethod
    def _merge_signals(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        merged = copy.deepcopy(DEFAULT_SIGNALS)
        user = data.get("signals") or {}
        if not isinstance(user, dict):
            raise ValueError("signals must be a table of signal names")
        for name, table in user.items():
            if not isinstance(table, dict):
                raise ValueError(f"signals.{name} must be a table")
            merged[name] = {**merged.get(name, {}), **{k.lower(): v for k, v in table.items()}}
        for name, table in merged.items():
            table["name"] = name
            # SPEC: any other signal gets the generic detector unless configured otherwise,
            # at a threshold for paging people (about 1 in 10^5 buckets of noise), not NAB's 0.5.
            table.setdefault("detectors", [{"kind": "anomaly", "threshold": 0.83}])
        data["signals"] = merged
        return data

    @field_validator("webhook_allowed_networks", "webhook_denied_networks")
    @classmethod
    def _networks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for cidr in value:
            try:
                ipaddress.ip_network(cidr, strict=False)
            except ValueError:
                raise ValueError(f"{cidr!r} is not a network like '10.1.0.0/16' or 'fd00::/8'") from None
        return value

    @field_validator("kafka_topics", mode="before")
    @classmethod
    def _topic_list(cls, value: Any) -> Any:
        """``TOCSIN_KAFKA_TOPICS=a,b`` as well as a TOML array."""
        return tuple(t.strip() for t in value.split(",") if t.strip()) if isinstance(value, str) else value

    @field_validator("escalation_hours")
    @classmethod
    def _escalations(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if any(not 0 < h < float("inf") for h in value):
            raise ValueError(f"escalation hours must be positive and finite, got {list(value)}")
        return tuple(sorted(set(value)))

    @model_validator(mode="after")
    def _open_only_on_loopback(self) -> Settings:
        try:
            check_open_host(self.auth, self.host)
        except ConfigError as exc:
            raise ValueError(str(exc)) from None
        return self

    @property
    def notifications_path(self) -> Path:
        """The notification log: one JSON notice per line, as sent."""
        return self.data_dir / "notifications.jsonl"

    @property
    def sqlalchemy_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'tocsin.db'}"

    def response_seconds(self, severity: str) -> float:
        hours = self.response_hours_by_severity.get(severity, self.response_hours)  # type: ignore[call-overload]
        return 3600.0 * float(hours)


def load_settings(path: str | os.PathLike[str] | None = None, **overrides: Any) -> Settings:
    """Settings from ``path`` (or ``$TOCSIN_CONFIG``), the environment and ``overrides``."""
    path = path or os.environ.get("TOCSIN_CONFIG") or None
    values: dict[str, Any] = {}
    if path:
        try:
            values = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"config file {path} does not exist") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    values = _deep_merge(values, _environment())
    try:
        return Settings(**{**values, **overrides})
    except ValidationError as exc:
        raise ConfigError(f"{path or 'settings'}: {_short(exc)}") from None


def _environment() -> dict[str, Any]:
    """``TOCSIN_A__B=x`` as ``{"a": {"b": "x"}}``; TOML arrays and tables are parsed."""
    out: dict[str, Any] = {}
    for key, value in os.environ.items():
        if not key.startswith("TOCSIN_") or key == "TOCSIN_CONFIG":
            continue
        path = key.removeprefix("TOCSIN_").lower().split("__")
        if path[0] not in Settings.model_fields:
            continue
        node = out
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = _env_value(value)
    return out


def _env_value(value: str) -> Any:
    if value.strip().startswith(("[", "{")):
        try:
            return tomllib.loads(f"v = {value}")["v"]
        except tomllib.TOMLDecodeError:
            pass  # not a TOML array or table after all: the setting gets the plain string
    return value


def _deep_merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _short(exc: ValidationError | ValueError) -> str:
    """One line per problem: ``signals.mentions.bucket: <reason>``."""
    if not isinstance(exc, ValidationError):
        return str(exc)
    lines = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        lines.append(f"{loc}: {msg}" if loc else msg)
    return "; ".join(lines)
