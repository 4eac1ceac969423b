"""Replay throughput: ``tocsin replay`` of a whole events file, end to end, in events per second.

What is timed
    *in-process*: ``api.cli.main(["replay", FILE, "--alerts-out", OUT])``, i.e. reading and
    gunzipping the file, validation, dedupe, bucketing, the detectors, alert tracking, the
    dead-letter file and the alerts file; the interpreter and imports are already warm.
    *command*: the real ``tocsin replay`` as a subprocess, so interpreter start-up and imports
    (about half a second) are included; this is what a user sees.

How to read it
    Each mode runs ``--repeat`` times; the median events/s (input lines / wall seconds) is the
    figure to quote, min and max show the noise. The goal (issue 2) is >= 150 000 events/s on
    one core: replay is single-threaded, and ``--cpu N`` pins this process and the subprocess
    to CPU N so a second core cannot help. Detector cost is part of the figure: in the
    scenario file every event closes about one bucket, so each microsecond a detector spends
    per bucket is 15 % of the 6.7 us per event the goal allows (see detector_cost.py).

    .venv/bin/python benchmarks/replay_throughput.py --repeat 7 --cpu 1
"""
from __future__ import annotations

import argparse
import contextlib
import gzip
import io
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_EVENTS = Path("/work/shared/scenarios/events.jsonl.gz")


def count_lines(path: Path) -> int:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        return sum(1 for line in f if line.strip())


def run_in_process(events: Path, config: str | None, out: Path) -> float:
    from api.cli import main

    argv = (["--config", config] if config else []) + ["replay", str(events), "--alerts-out", str(out)]
    started = time.perf_counter()
    with contextlib.redirect_stderr(io.StringIO()):  # the one-line summary, once per run
        code = main(argv)
    elapsed = time.perf_counter() - started
    if code != 0:
        raise SystemExit(f"tocsin replay exited with {code}")
    return elapsed


def run_command(events: Path, config: str | None, out: Path, cpu: int | None) -> float:
    exe = shutil.which("tocsin", path=str(ROOT / ".venv" / "bin")) or "tocsin"
    argv = [exe] + (["--config", config] if config else []) + ["replay", str(events), "--alerts-out", str(out)]
    if cpu is not None:
        argv = ["taskset", "-c", str(cpu)] + argv
    started = time.perf_counter()
    subprocess.run(argv, check=True, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def report(label: str, n_events: int, seconds: list[float]) -> float:
    rates = sorted(n_events / s for s in seconds)
    median = statistics.median(rates)
    print(f"{label:<11} median {median:>9,.0f} events/s   (min {rates[0]:,.0f}, max {rates[-1]:,.0f}; "
          f"median {statistics.median(seconds):.3f} s over {len(seconds)} runs)")
    return median


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--events", type=Path, default=DEFAULT_EVENTS, help="events file (default: the scenarios)")
    parser.add_argument("--config", help="tocsin configuration file (default: the built-in defaults)")
    parser.add_argument("--repeat", type=int, default=5, help="in-process repetitions (default: 5)")
    parser.add_argument("--command-repeat", type=int, default=3,
                        help="repetitions of the real `tocsin replay` command (default: 3; 0 skips it)")
    parser.add_argument("--cpu", type=int, help="pin to this CPU (one core)")
    parser.add_argument("--profile", type=Path, help="also write a cProfile of one in-process run here")
    args = parser.parse_args()

    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})
    n_events = count_lines(args.events)
    print(f"{args.events}: {n_events:,} events; config: {args.config or 'defaults'}")
    with tempfile.TemporaryDirectory(prefix="tocsin-bench-") as tmp:
        out = Path(tmp) / "alerts.jsonl"
        run_in_process(args.events, args.config, out)  # warm-up: imports, caches
        report("in-process", n_events,
               [run_in_process(args.events, args.config, out) for _ in range(args.repeat)])
        if args.command_repeat:
            report("command", n_events,
                   [run_command(args.events, args.config, out, args.cpu) for _ in range(args.command_repeat)])
        if args.profile:
            import cProfile

            cProfile.runctx("run_in_process(events, config, out)", globals(),
                            {"events": args.events, "config": args.config, "out": out}, str(args.profile))
            print(f"profile -> {args.profile} (python -m pstats {args.profile})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
