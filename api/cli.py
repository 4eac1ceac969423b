"""The ``tocsin`` command.

    tocsin serve                      run the HTTP API (migrates the database first)
    tocsin demo [--rate R]            the service and console with a simulated crisis on an accelerated clock
    tocsin worker [--metrics-port P]  consume the Kafka topics (a member of the worker group)
    tocsin replay EVENTS --alerts-out OUT [--notifications-out FILE]
                                      run a file through detection on event time
    tocsin db upgrade                 apply database migrations
    tocsin alerts export --out FILE   write the stored alerts in the replay format
    tocsin [--config FILE] check-config
                                      validate the configuration and print it, defaults included
    tocsin keys create --name NAME --scope SCOPE [--scope ...] | list | revoke ID
                                      API keys (create prints the new key alone on its last line)
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from contextlib import ExitStack
from typing import IO, Any

import orjson

from api import keys_cli
from ingest.replay import replay
from ingest.sources.files import read_lines
from warning.alerts import Alert, AlertChange
from warning.errors import ConfigError, TocsinError
from warning.events import Rejected
from warning.pipeline import Pipeline
from warning.settings import Settings, load_settings


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        settings = load_settings(args.config)
        return int(args.run(args, settings) or 0)
    except (TocsinError, OSError, EOFError) as exc:  # files that cannot be read: a message, not a traceback
        print(f"tocsin: {exc}", file=sys.stderr)
        return 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tocsin", description="Crisis early warning: events in, alerts out.")
    parser.add_argument("--config", help="TOML configuration file (default: $TOCSIN_CONFIG)")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the HTTP API and in-process ingest")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.set_defaults(run=_serve)

    demo = commands.add_parser("demo", help="the service and its console on a temporary data directory, fed a "
                                            "simulated crisis on an accelerated clock")
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument("--port", type=int, default=0, help="default: a free port")
    demo.add_argument("--rate", type=float, default=60.0, help="event-time seconds per wall second (default 60)")
    demo.add_argument("--keep", action="store_true", help="keep the temporary data directory on exit")
    demo.set_defaults(run=_demo)

    worker = commands.add_parser("worker", help="consume the Kafka topics as a member of the worker group")
    worker.add_argument("--metrics-host", default="127.0.0.1", help="where /healthz and /metrics listen")
    worker.add_argument("--metrics-port", type=int, help="serve /healthz and /metrics on this port (default: none)")
    worker.set_defaults(run=_worker)

    rep = commands.add_parser("replay", help="run an events file through detection on event time")
    rep.add_argument("events", help="JSONL or CSV file of canonical events, gzip accepted, '-' for stdin")
    rep.add_argument("--alerts-out", required=True, help="JSONL file of alerts ('-' for stdout)")
    rep.add_argument("--format", choices=["jsonl", "csv"], help="input format (default: from the file name)")
    rep.add_argument("--dead-letters", help="JSONL file of rejected and late events (default: ALERTS_OUT.rejected.jsonl)")
    rep.add_argument("--notifications-out", metavar="FILE",
                     help="JSONL file of every notice the alerts and the response clock produce, on event time")
    rep.add_argument("--explain", metavar="ENTITY",
                     help="print, per closed bucket of ENTITY, what each rule saw and why it fired or stayed quiet")
    rep.set_defaults(run=_replay)

    db = commands.add_parser("db", help="database maintenance").add_subparsers(required=True, metavar="ACTION")
    db.add_parser("upgrade", help="apply migrations up to the latest").set_defaults(run=_db_upgrade)

    alerts = commands.add_parser("alerts", help="stored alerts").add_subparsers(required=True, metavar="ACTION")
    export = alerts.add_parser("export", help="write stored alerts in the replay format")
    export.add_argument("--out", required=True, help="JSONL file ('-' for stdout)")
    export.set_defaults(run=_export)

    check = commands.add_parser("check-config", help="validate the configuration and print it, defaults included")
    check.set_defaults(run=_check_config)
    keys_cli.register(commands)
    return parser


def _replay(args: argparse.Namespace, settings: Settings) -> int:
    dead_path = args.dead_letters or (None if args.alerts_out == "-" else f"{args.alerts_out}.rejected.jsonl")
    with ExitStack() as stack:
        dead_file: IO[bytes] | None = None

        def dead_letter(rejected: Rejected) -> None:
            nonlocal dead_file
            if dead_file is None:
                dead_file = stack.enter_context(open(dead_path, "wb")) if dead_path else sys.stderr.buffer
            dead_file.write(orjson.dumps({"kind": rejected.kind, "reason": rejected.reason,
                                          "source": rejected.source, "raw": rejected.raw}) + b"\n")

        def print_explained(seen: dict[str, Any]) -> None:
            sys.stdout.buffer.write(orjson.dumps(seen) + b"\n")

        pipeline = Pipeline(settings, explain=(args.explain, print_explained) if args.explain else None)
        changes: list[AlertChange] = []
        result = replay(read_lines(args.events, args.format), settings, dead_letter=dead_letter, pipeline=pipeline,
                        on_changes=changes.extend if args.notifications_out else lambda c: None)
    write_alerts(args.alerts_out, sorted(result.alerts.values(), key=lambda a: (a.raised_at, a.id)))
    notified = ""
    if args.notifications_out:
        from warning.notices import replay_notices  # only here: each import adds to every command's start

        # The replay's clock is event time: it stops at the latest event (or bucket) seen.
        end = max([*pipeline.clocks.values(), *(c.at for c in changes)], default=float("-inf"))
        notices, pending = replay_notices(changes, end, settings.escalation_hours)
        write_jsonl(args.notifications_out, [n.payload() for n in notices])
        notified = f"; {len(notices)} notices -> {args.notifications_out}" + (
            f" ({pending} not yet due when the events end)" if pending else "")
    print(
        f"tocsin replay: {result.events} events, {result.accepted} accepted, {result.duplicates} duplicates, "
        f"{result.rejected} rejected, {result.late} late; {len(result.alerts)} alerts -> {args.alerts_out}"
        + notified
        + (f"; rejected and late -> {dead_path}" if (result.rejected or result.late) and dead_path else ""),
        file=sys.stderr,
    )
    return 0


def write_alerts(path: str, alerts: Sequence[Alert]) -> None:
    write_jsonl(path, [alert.to_json() for alert in alerts])


def write_jsonl(path: str, items: Sequence[dict[str, Any]]) -> None:
    with ExitStack() as stack:
        out: IO[bytes] = sys.stdout.buffer if path == "-" else stack.enter_context(open(path, "wb"))
        for item in items:
            out.write(orjson.dumps(item) + b"\n")


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    from api.app import run

    run(settings, host=args.host, port=args.port)
    return 0


def _demo(args: argparse.Namespace, settings: Settings) -> int:
    from api import demo

    if args.rate <= 0:
        raise ConfigError(f"--rate must be above 0, got {args.rate:g}")
    return demo.run(args.config, host=args.host, port=args.port, rate=args.rate, keep=args.keep)


def _worker(args: argparse.Namespace, settings: Settings) -> int:
    from ingest.kafka.run import run_worker

    return run_worker(settings, metrics_host=args.metrics_host, metrics_port=args.metrics_port)


def _db_upgrade(args: argparse.Namespace, settings: Settings) -> int:
    from sqlalchemy.engine import make_url

    from warning.storage.migrations import upgrade

    upgrade(settings.sqlalchemy_url)
    shown = make_url(settings.sqlalchemy_url).render_as_string(hide_password=True)
    print(f"tocsin: database at {shown} is up to date", file=sys.stderr)
    return 0


def _export(args: argparse.Namespace, settings: Settings) -> int:
    from warning.storage.database import Database

    db = Database(settings)
    alerts = db.all_alerts()
    write_alerts(args.out, alerts)
    print(f"tocsin: {len(alerts)} alerts -> {args.out}", file=sys.stderr)
    return 0


def _check_config(args: argparse.Namespace, settings: Settings) -> int:
    print(settings.model_dump_json(indent=2))
    print(f"database: {settings.sqlalchemy_url}", file=sys.stderr)  # an empty database_url means this SQLite file
    for name, signal in settings.signals.items():
        rules = ", ".join(f"{r.name} ({r.kind})" for r in signal.rules) or "no rules"
        print(f"signal {name}: {signal.aggregate} per {signal.bucket:g} s, lateness {signal.lateness:g} s; {rules}",
              file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
