"""`seqlang run FILE --csv CONTACTS`: the main job in one command.

Deploy the file, enroll the CSV, send what is due at once, print what comes next for each new
contact, then keep the worker running until Ctrl-C. Running it again is safe: an unchanged
file keeps its version, and contacts already in the sequence are reported and skipped.

The timeline is the simulator's (the same engine code, on a private in-memory copy) from this
moment, assuming the contact neither opens, clicks nor replies; it is what the worker will do
unless an event changes course.

`--send-window ignore` lets emails leave outside the sequence's `send on` schedule, so a
sequence that only sends in office hours can be tried on a Saturday night. It is for trying a
sequence now, never for real sends: business-day waits still count open days.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from runtime import logs
from runtime import schema as t
from runtime.config import EngineConfig
from runtime.deploy import DeployError, deploy
from runtime.enroll import EnrollError, EnrollReport, enroll_csv
from runtime.simulator import SimulationError, simulate
from runtime.store import Store
from runtime.worker import SetupError, Worker, add_worker_arguments, serve, start, utc_now
from seqlang.diagnostics import render_text

ENGINE_LOGGER = "seqlang.engine"
TIMELINE_ENTRIES = 5  # per contact: enough to see the next sends and waits, short to read
TIMELINE_CONTACTS = 20  # simulating costs ~0.3 s a contact; the rest are one status away
_SHOWN_KINDS = ("sent", "waiting", "task", "webhook", "exited", "completed", "failed",
                "skipped", "paused")


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    parser.add_argument("file", help="the .seq file to deploy")
    parser.add_argument("--csv", required=True, metavar="CONTACTS",
                        help="contacts to enroll: a CSV file with an `email` column")
    parser.add_argument("--sequence", help="which sequence of the file (when it has several)")
    parser.add_argument("--send-window", choices=("respect", "ignore"), default="respect",
                        help="`ignore` sends outside the sequence's `send on` schedule: for "
                             "trying a sequence now, never for real sends (default: respect)")
    add_worker_arguments(parser)


def run(args: argparse.Namespace) -> int:
    logs.configure(args.log_format)
    for path, flag in ((args.file, "FILE"), (args.csv, "--csv")):
        if not Path(path).is_file():
            print(f"seqlang run: {flag}: cannot read {path}", file=sys.stderr)
            return 2
    config = EngineConfig.from_env()
    if args.send_window == "ignore":
        config = replace(config, ignore_send_window=True)
    try:
        worker, described = start(args, config)
    except SetupError as error:
        print(f"seqlang run: {error}", file=sys.stderr)
        return 2
    try:
        prepared = _prepare(worker, args)
    except KeyboardInterrupt:
        worker.store.close()
        return 0
    if isinstance(prepared, int):
        worker.store.close()
        return prepared
    return serve(worker, described)


def _prepare(worker: Worker, args: argparse.Namespace) -> int | None:
    """Deploy, enroll, send what is due, show timelines; an exit status when refused."""
    store, now = worker.store, utc_now()
    try:
        deployments = deploy(store, args.file, now)
    except DeployError as error:
        print(f"seqlang run: {error}", file=sys.stderr)
        for diag in error.diagnostics:
            print(render_text(diag, _source(diag.span.file)), file=sys.stderr)
        return 1
    for d in deployments:
        print(f"deployed {d.sequence} version {d.version}"
              + ("" if d.created else " (unchanged)"))
    names = [d.sequence for d in deployments]
    if args.sequence is not None and args.sequence not in names:
        print(f"seqlang run: no sequence {args.sequence!r} in {args.file}; it has "
              + ", ".join(names), file=sys.stderr)
        return 1
    if args.sequence is None and len(names) > 1:
        print(f"seqlang run: {args.file} has several sequences; choose one with --sequence: "
              + ", ".join(names), file=sys.stderr)
        return 1
    name = args.sequence or names[0]
    try:
        report = enroll_csv(store, name, args.csv, now)
    except EnrollError as error:
        print(f"seqlang run: {error}", file=sys.stderr)
        return 1
    _print_report(report, name, args.csv)
    if args.send_window == "ignore":
        print("send window ignored: emails leave at any hour (for trying a sequence, "
              "never for real sends)")
    worker.tick()
    _print_timelines(store, args, name, report.enrolled, worker.options.config)
    return None


def _print_report(report: EnrollReport, sequence: str, csv: str) -> None:
    for problem in report.errors:
        print(f"{csv}:{problem.line}: skipped: {problem.message}")
    skipped = f", {len(report.errors)} skipped" if report.errors else ""
    print(f"enrolled {len(report.enrolled)} contact{'s' * (len(report.enrolled) != 1)} "
          f"in {sequence}{skipped}")


def _print_timelines(store: Store, args: argparse.Namespace, sequence: str,
                     enrolled: list[int], config: EngineConfig) -> None:
    if not enrolled:
        return
    print("\nthe timeline of each new contact, if they neither open nor reply "
          "(times in the contact's zone):")
    shown = enrolled[:TIMELINE_CONTACTS]
    for enrollment, email, fields in _contacts(store, shown):
        try:
            with _quiet(ENGINE_LOGGER):
                simulation = simulate(args.file, {**fields, "email": email}, start=utc_now(),
                                      until="+60d", sequence=sequence, config=config,
                                      enrollment_id=enrollment)
        except (SimulationError, DeployError) as error:
            print(f"  enrollment {enrollment} {email}: cannot simulate: {error}")
            continue
        print(f"  enrollment {enrollment} {email} ({simulation.time_zone})")
        entries = [e for e in simulation.timeline if e["kind"] in _SHOWN_KINDS]
        for entry in entries[:TIMELINE_ENTRIES]:
            print(f"    {timeline_line(entry)}")
        if len(entries) > TIMELINE_ENTRIES:
            print(f"    ... {len(entries) - TIMELINE_ENTRIES} more")
    if len(enrolled) > len(shown):
        print(f"  ... and {len(enrolled) - len(shown)} more; `seqlang status ENROLLMENT` "
              "explains any one")
    print()
    sys.stdout.flush()


@contextmanager
def _quiet(name: str) -> Iterator[None]:
    """Keep a simulation's walks out of the log, where they would read as real sends."""
    logger = logging.getLogger(name)
    logger.disabled = True
    try:
        yield
    finally:
        logger.disabled = False


def timeline_line(entry: dict[str, Any]) -> str:
    """One simulated step as `Mon 30 Nov 09:00  sent     nudge     "Re: Welcome, Ana"`."""
    at = entry["at"][:16].replace("T", " ")
    kind, step = entry["kind"], entry["step"]
    if kind == "sent":
        variant = f" (variant {entry['variant']})" if entry.get("variant") else ""
        what = f"{entry['subject']!r}{variant}"
    elif kind == "waiting":
        what = f"until {entry['until'][:16].replace('T', ' ')}: {entry.get('reason', '')}"
    else:
        what = entry.get("reason") or entry.get("text") or entry.get("url") or ""
    return f"{at}  {kind:<9} {step:<12} {what}".rstrip()


def _contacts(store: Store, ids: list[int]) -> list[tuple[int, str, dict[str, Any]]]:
    E, C = t.enrollments, t.contacts
    with store.read() as conn:
        rows = conn.execute(
            sa.select(E.c.id, C.c.email, C.c.fields).join(C, C.c.id == E.c.contact_id)
            .where(E.c.id.in_(ids)).order_by(E.c.id)
        ).all()
    return [(row.id, row.email, dict(row.fields)) for row in rows]


def _source(path: str) -> str | None:
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
