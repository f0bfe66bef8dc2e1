"""Enrolling contacts in a deployed sequence, one at a time or from a CSV file.

Each contact is checked against the sequence's `contact` block before anything is written
(a valid address, required fields present, numbers that are numbers), and each one is written
in its own savepoint, so a bad row is reported by its line number and skipped while every good
row goes in whole. A contact already in an unfinished run of the sequence is refused; the
partial unique index on enrollments enforces it even between concurrent imports.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from runtime import schema as t
from runtime.deploy import deployed, latest_version
from runtime.deployed import DeployedSequence
from runtime.message import MessageError, validate_address
from runtime.store import Store
from runtime.timing import resolve_zone
from seqlang.graph import ENTRY

E, C = t.enrollments, t.contacts
CHUNK = 500  # rows per transaction: long enough to be cheap, short enough not to stall workers


class EnrollError(ValueError):
    """This contact (or the whole request) cannot be enrolled; the message says why."""


@dataclass(frozen=True)
class RowError:
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


@dataclass(frozen=True)
class EnrollReport:
    enrolled: list[int] = field(default_factory=list)  # enrollment ids, in input order
    errors: list[RowError] = field(default_factory=list)


def enroll(store: Store, sequence: str, contact: Mapping[str, Any], now: datetime) -> int:
    """Enroll one contact (a mapping with `email` and fields); returns the enrollment id."""
    report = enroll_many(store, sequence, [(1, contact)], now)
    if report.errors:
        raise EnrollError(report.errors[0].message)
    return report.enrolled[0]


def enroll_csv(store: Store, sequence: str, path: str | Path, now: datetime) -> EnrollReport:
    """Enroll every row of a CSV file whose header names the fields (`email` required)."""
    try:
        rows, problems = read_csv(Path(path))
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise EnrollError(f"{path}: {error}") from None
    report = enroll_many(store, sequence, rows, now)
    report.errors.extend(problems)
    report.errors.sort(key=lambda e: e.line)
    return report


def read_csv(path: Path) -> tuple[list[tuple[int, dict[str, str]]], list[RowError]]:
    """(line, row) pairs, and the rows that are not rows of the header's shape.

    The line is where the row starts, quoted newlines included. Empty cells are left out: a
    missing optional field must stay missing, not become "".
    """
    rows: list[tuple[int, dict[str, str]]] = []
    problems: list[RowError] = []
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None:
            raise EnrollError(f"{path}: the file is empty; expected a header line with `email`")
        names = [h.strip() for h in header]
        if "email" not in names:
            raise EnrollError(f"{path}: line 1: the header has no `email` column")
        start = reader.line_num + 1
        for row in reader:
            line, start = start, reader.line_num + 1
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(names):
                problems.append(RowError(line, f"{len(row)} cells where the header has "
                                               f"{len(names)}"))
                continue
            rows.append((line, {k: v for k, v in zip(names, row, strict=True) if v.strip()}))
    return rows, problems


def enroll_many(store: Store, sequence: str, rows: Iterable[tuple[int, Mapping[str, Any]]],
                now: datetime) -> EnrollReport:
    with store.read() as conn:
        version_id = latest_version(conn, sequence)
    if version_id is None:
        raise EnrollError(f"sequence {sequence!r} is not deployed; run `seqlang deploy` first")
    seq = deployed(store, version_id)
    report = EnrollReport()
    checked: list[tuple[int, str, dict[str, Any]]] = []
    for line, raw in rows:
        try:
            email, fields = contact_fields(raw, seq)
        except EnrollError as error:
            report.errors.append(RowError(line, str(error)))
            continue
        checked.append((line, email, fields))
    for start in range(0, len(checked), CHUNK):
        with store.write() as conn:
            for line, email, fields in checked[start:start + CHUNK]:
                try:
                    with conn.begin_nested():
                        report.enrolled.append(_insert(conn, seq, email, fields, now))
                except EnrollError as error:
                    report.errors.append(RowError(line, str(error)))
                except IntegrityError:
                    report.errors.append(RowError(line, _already(email, sequence)))
    report.errors.sort(key=lambda e: e.line)
    return report


def contact_fields(raw: Mapping[str, Any], seq: DeployedSequence) -> tuple[str, dict[str, Any]]:
    """The address and the typed fields of one contact, checked against the contact block."""
    address = str(raw.get("email") or "").strip()
    if not address:
        raise EnrollError("no email address")
    try:
        email = validate_address(address, "email").lower()
    except MessageError as error:
        raise EnrollError(error.reason) from None
    fields: dict[str, Any] = {}
    for name, value in raw.items():
        if name == "email" or value is None or value == "":
            continue
        declared = seq.fields.get(name)
        fields[name] = _typed(name, value, declared.type if declared else "string")
    missing = [f.name for f in seq.fields.values()
               if not f.optional and f.name not in fields and f.name != "email"]
    if missing:
        raise EnrollError("missing required field" + ("s " if len(missing) > 1 else " ")
                          + ", ".join(missing))
    return email, fields


def _typed(name: str, value: Any, kind: str) -> Any:
    if not isinstance(value, str):
        return value
    text = value.strip()
    try:
        if kind == "number":
            number = float(text)
            return int(number) if number.is_integer() and "." not in text else number
        if kind == "bool":
            return {"true": True, "yes": True, "1": True,
                    "false": False, "no": False, "0": False}[text.lower()]
        if kind == "date":
            return date.fromisoformat(text).isoformat()
    except (ValueError, KeyError):
        raise EnrollError(f"{name}: {value!r} is not a {kind}") from None
    return value


def _insert(conn: Connection, seq: DeployedSequence, email: str, fields: dict[str, Any],
            now: datetime) -> int:
    suppressed = conn.execute(
        sa.select(t.suppressions.c.reason).where(t.suppressions.c.email == email)
    ).scalar()
    if suppressed is not None:
        raise EnrollError(f"{email} is suppressed ({suppressed}) and can never be emailed")
    contact = conn.execute(sa.select(C.c.id, C.c.fields).where(C.c.email == email)).first()
    if contact is None:
        contact_id = conn.execute(
            sa.insert(C).values(email=email, fields=fields, created_at=now, updated_at=now)
            .returning(C.c.id)
        ).scalar_one()
    else:
        contact_id = contact.id
        fields = {**contact.fields, **fields}
        conn.execute(sa.update(C).where(C.c.id == contact_id)
                     .values(fields=fields, updated_at=now))
    running = conn.execute(
        sa.select(E.c.id).where(E.c.sequence == seq.name, E.c.contact_id == contact_id,
                                E.c.state.in_(t.UNFINISHED_STATES))
    ).scalar()
    if running is not None:
        raise EnrollError(_already(email, seq.name, running))
    zone = resolve_zone(fields.get(seq.zone_field) if seq.zone_field else None,
                        seq.zone_default)
    return conn.execute(
        sa.insert(E).values(
            version_id=seq.version_id, sequence=seq.name, contact_id=contact_id,
            state="active", time_zone=zone.key, position=ENTRY, next_run_at=now,
            visits={}, variants={}, cohorts={}, steps=0, attempts=0, wake_version=0,
            lease_version=0, enrolled_at=now, updated_at=now,
        ).returning(E.c.id)
    ).scalar_one()


def _already(email: str, sequence: str, enrollment: int | None = None) -> str:
    which = f" (enrollment {enrollment})" if enrollment is not None else ""
    return f"{email} is already in an unfinished run of {sequence}{which}"
