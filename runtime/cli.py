"""The engine's commands of the `seqlang` CLI: deploy, enroll, process, event, simulate,
status, pause, resume, skip-step and unenroll.

`seqlang.cli` imports this module only when one of these commands runs, so checking and
formatting files never loads SQLAlchemy. Every command is a thin layer over
`runtime.service`. Exit status: 0 done, 1 refused (check errors, bad rows, an action that does
not apply), 2 usage or configuration problems (bad flags, unreadable files, no database).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.exc import OperationalError

from runtime import service
from runtime.config import DATABASE_URL_ENV, TRANSPORT_ENV, EngineConfig, new_owner
from runtime.control import ControlError
from runtime.store import DEFAULT_URL, Store
from runtime.transports import DEFAULT_TRANSPORT_URL, parse_transport_url
from seqlang.diagnostics import render_text

OK, REFUSED, USAGE = 0, 1, 2


class UsageError(Exception):
    """Bad input from the command line; reported on stderr with exit status 2."""


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    _ADD[name](parser)


def run(args: argparse.Namespace) -> int:
    try:
        return _RUN[args.command](args)
    except UsageError as error:
        print(f"seqlang {args.command}: {error}", file=sys.stderr)
        return USAGE
    except OperationalError as error:
        print(f"seqlang {args.command}: database error: {error.orig}", file=sys.stderr)
        return USAGE


# ---- shared options ------------------------------------------------------------------------


def _database(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--database-url", default=os.environ.get(DATABASE_URL_ENV, DEFAULT_URL),
                        help=f"SQLAlchemy URL (default: ${DATABASE_URL_ENV} or {DEFAULT_URL})")


def _now_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--now", metavar="ISO", help="act as if it were this moment "
                        "(an ISO date-time with offset; default: the current time)")


def _enrollment(parser: argparse.ArgumentParser) -> None:
    _database(parser)
    parser.add_argument("enrollment", type=int, help="enrollment id (see `seqlang status`)")


def _operator(parser: argparse.ArgumentParser) -> None:
    _enrollment(parser)
    _now_option(parser)


def _store(args: argparse.Namespace) -> Store:
    return service.open_store(args.database_url)


def _moment(text: str | None, flag: str) -> datetime | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(f"{flag} {text!r} is not an ISO date-time") from None
    if moment.utcoffset() is None:
        raise UsageError(f"{flag} {text!r} needs a UTC offset, e.g. {text}+00:00")
    return moment


def _pairs(items: list[str] | None, flag: str) -> dict[str, str]:
    out = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"{flag} {item!r}: expected key=value")
        out[key.strip()] = value
    return out


def _print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, ensure_ascii=False, default=str))


# ---- deploy --------------------------------------------------------------------------------


def _add_deploy(parser: argparse.ArgumentParser) -> None:
    _database(parser)
    parser.add_argument("paths", nargs="+", metavar="FILE", help=".seq files to deploy")


def _deploy(args: argparse.Namespace) -> int:
    store = _store(args)
    status = OK
    for path in args.paths:
        if not Path(path).is_file():
            raise UsageError(f"cannot read {path}")
        try:
            done = service.deploy(store, path)
        except service.DeployError as error:
            print(f"seqlang deploy: {error.summary}", file=sys.stderr)
            for diag in error.diagnostics:
                print(render_text(diag, _source(diag.span.file)), file=sys.stderr)
            status = REFUSED
            continue
        for d in done:
            what = "new version" if d.created else "unchanged"
            print(f"{d.sequence}: version {d.version} ({what})")
    return status


def _source(path: str) -> str | None:
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


# ---- enroll --------------------------------------------------------------------------------


def _add_enroll(parser: argparse.ArgumentParser) -> None:
    _database(parser)
    _now_option(parser)
    parser.add_argument("sequence", help="the deployed sequence's name")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--csv", metavar="FILE", help="a CSV file with a header line "
                        "(an `email` column, the others are contact fields)")
    source.add_argument("--contact", action="append", metavar="KEY=VALUE",
                        help="one field of a single contact (repeat; `email` is required)")


def _enroll(args: argparse.Namespace) -> int:
    store = _store(args)
    now = _moment(args.now, "--now")
    try:
        if args.csv is not None:
            report = service.enroll(store, args.sequence, csv=args.csv, now=now)
        else:
            contact = _pairs(args.contact, "--contact")
            report = service.enroll(store, args.sequence, contact=contact, now=now)
    except service.EnrollError as error:
        print(f"seqlang enroll: {error}", file=sys.stderr)
        return REFUSED
    where = f"{args.csv}:" if args.csv is not None else ""
    for problem in report.errors:
        print(f"{where}{problem.line}: {problem.message}" if where else problem.message,
              file=sys.stderr)
    ids = ", ".join(map(str, report.enrolled))
    print(f"enrolled {len(report.enrolled)} in {args.sequence}" + (f": {ids}" if ids else "")
          + (f"; {len(report.errors)} skipped" if report.errors else ""))
    return REFUSED if report.errors else OK


# ---- process -------------------------------------------------------------------------------


def _add_process(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("sequence", nargs="?", help="only this sequence's enrollments")
    _database(parser)
    _now_option(parser)
    parser.add_argument("--transport", default=os.environ.get(TRANSPORT_ENV,
                                                              DEFAULT_TRANSPORT_URL),
                        help=f"where emails go (default: ${TRANSPORT_ENV} or "
                             f"{DEFAULT_TRANSPORT_URL})")
    parser.add_argument("--batch-size", type=int, default=100, help="enrollments per batch")
    parser.add_argument("--owner", default=new_owner(),
                        help="this worker's name in leases (default: host:pid:random)")
    parser.add_argument("--drain", action="store_true",
                        help="repeat until nothing is due, instead of one batch")
    parser.add_argument("--format", choices=("text", "json"), default="text")


def _process(args: argparse.Namespace) -> int:
    if args.batch_size < 1:
        raise UsageError("--batch-size must be at least 1")
    try:
        transport = parse_transport_url(args.transport)
    except ValueError as error:
        raise UsageError(str(error)) from None
    store = _store(args)
    now = _moment(args.now, "--now") or datetime.now(UTC)
    config = EngineConfig.from_env()
    total = service.TickCounts()
    while True:
        counts = service.process_due(store, transport, now, args.owner, args.batch_size, config,
                                     args.sequence)
        total = total + counts
        if not args.drain or counts.claimed < args.batch_size:
            break
    if args.format == "json":
        _print_json(asdict(total))
    else:
        shown = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in asdict(total).items() if v)
        print(shown or "nothing due")
    return OK


# ---- event ---------------------------------------------------------------------------------


def _add_event(parser: argparse.ArgumentParser) -> None:
    _database(parser)
    _now_option(parser)
    parser.add_argument("kind", choices=("opened", "clicked", "replied", "bounced",
                                         "unsubscribed"))
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--contact", metavar="EMAIL",
                       help="the contact; the event is about the latest email sent to them")
    which.add_argument("--message-id", help="Message-ID of the email the event is about")
    which.add_argument("--send", type=int, help="id of the send the event is about")
    parser.add_argument("--step", metavar="LABEL",
                        help="with --contact: the latest email of this step")
    parser.add_argument("--url", help="the clicked link (clicked only)")
    parser.add_argument("--at", metavar="ISO", help="when it happened (default: now)")


def _event(args: argparse.Namespace) -> int:
    if args.step is not None and args.contact is None:
        raise UsageError("--step goes with --contact")
    store = _store(args)
    try:
        event = service.record_event(store, args.kind, message_id=args.message_id,
                                     send_id=args.send, contact=args.contact,
                                     step=args.step, url=args.url,
                                     at=_moment(args.at, "--at"),
                                     now=_moment(args.now, "--now"))
    except service.EventError as error:
        print(f"seqlang event: {error}", file=sys.stderr)
        return REFUSED
    print(f"recorded {event.kind} for enrollment {event.enrollment_id} step {event.step}"
          f" (event {event.id}; {event.woken} enrollment{'s' * (event.woken != 1)} woken)")
    return OK


# ---- simulate ------------------------------------------------------------------------------


def _add_simulate(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="the .seq file")
    parser.add_argument("--sequence", help="which sequence (when the file has several)")
    parser.add_argument("--contact", action="append", metavar="KEY=VALUE",
                        help="a contact field (repeat), e.g. --contact first_name=Ana")
    parser.add_argument("--start", metavar="ISO", help="when the contact is enrolled (local "
                        "to the enrollment's zone unless it has an offset; default: now)")
    parser.add_argument("--event", action="append", metavar='"KIND [LABEL] [URL] +OFFSET"',
                        help="an event at an offset from the start (+90m, +26h, +3d) or an "
                             "ISO time, e.g. --event \"opened welcome +2h\" (repeat)")
    parser.add_argument("--until", default="+30d",
                        help="how long to simulate: an offset or ISO time (default: +30d)")
    parser.add_argument("--format", choices=("text", "json"), default="text")


def _simulate(args: argparse.Namespace) -> int:
    if not Path(args.file).is_file():
        raise UsageError(f"cannot read {args.file}")
    start: datetime | str = args.start or datetime.now(UTC).replace(second=0, microsecond=0)
    try:
        result = service.simulate(args.file, _pairs(args.contact, "--contact"), start=start,
                                  events=args.event or [], until=args.until,
                                  sequence=args.sequence)
    except service.DeployError as error:
        print(f"seqlang simulate: {error.summary}", file=sys.stderr)
        for diag in error.diagnostics:
            print(render_text(diag, _source(diag.span.file)), file=sys.stderr)
        return REFUSED
    except service.SimulationError as error:
        raise UsageError(str(error)) from None
    if args.format == "json":
        _print_json(result.to_json())
    else:
        print(result.text())
    return OK


# ---- status and operator actions -----------------------------------------------------------


def _add_status(parser: argparse.ArgumentParser) -> None:
    _database(parser)
    parser.add_argument("target", nargs="?", metavar="SEQUENCE|ENROLLMENT",
                        help="an enrollment id to explain, or a sequence to count "
                             "(default: an overview of every sequence)")
    parser.add_argument("--format", choices=("text", "json"), default="text")


def _status(args: argparse.Namespace) -> int:
    store = _store(args)
    try:
        if args.target is not None and args.target.isdigit():
            found = service.explain(store, int(args.target))
            if args.format == "json":
                _print_json(found.to_json())
            else:
                print(found.text())
            return OK
        listed = service.overview(store, args.target)
    except LookupError as error:
        print(f"seqlang status: {error.args[0]}", file=sys.stderr)
        return REFUSED
    if args.format == "json":
        _print_json([s.to_json() for s in listed])
    else:
        print("\n".join(s.text() for s in listed) or "nothing deployed")
    return OK


def _add_resume(parser: argparse.ArgumentParser) -> None:
    _operator(parser)
    parser.add_argument("--resend", action="store_true",
                        help="send again an email whose fate is unknown (only after checking "
                             "the mailbox's Sent folder); by default it counts as sent")


def _add_reason(parser: argparse.ArgumentParser) -> None:
    _operator(parser)
    parser.add_argument("--reason", help="why (kept with the enrollment)")


def _action(act: Callable[[Store, argparse.Namespace], str]) -> Callable[[argparse.Namespace],
                                                                         int]:
    def run_action(args: argparse.Namespace) -> int:
        store = _store(args)
        try:
            print(act(store, args))
        except ControlError as error:
            print(f"seqlang {args.command}: {error}", file=sys.stderr)
            return REFUSED
        return OK

    return run_action


def _pause(store: Store, args: argparse.Namespace) -> str:
    service.pause(store, args.enrollment, _moment(args.now, "--now"), reason=args.reason)
    return f"enrollment {args.enrollment} paused"


def _resume(store: Store, args: argparse.Namespace) -> str:
    service.resume(store, args.enrollment, _moment(args.now, "--now"), resend=args.resend)
    return f"enrollment {args.enrollment} resumed" + (
        "; its unknown email will be sent again" if args.resend else "")


def _skip(store: Store, args: argparse.Namespace) -> str:
    target = service.skip_step(store, args.enrollment, _moment(args.now, "--now"))
    return f"enrollment {args.enrollment} now at {target}"


def _unenroll(store: Store, args: argparse.Namespace) -> str:
    service.unenroll(store, args.enrollment, _moment(args.now, "--now"), reason=args.reason)
    return f"enrollment {args.enrollment} unenrolled"


_ADD: dict[str, Callable[[argparse.ArgumentParser], None]] = {
    "deploy": _add_deploy,
    "enroll": _add_enroll,
    "process": _add_process,
    "event": _add_event,
    "simulate": _add_simulate,
    "status": _add_status,
    "pause": _add_reason,
    "resume": _add_resume,
    "skip-step": _operator,
    "unenroll": _add_reason,
}

_RUN: dict[str, Callable[[argparse.Namespace], int]] = {
    "deploy": _deploy,
    "enroll": _enroll,
    "process": _process,
    "event": _event,
    "simulate": _simulate,
    "status": _status,
    "pause": _action(_pause),
    "resume": _action(_resume),
    "skip-step": _action(_skip),
    "unenroll": _action(_unenroll),
}
