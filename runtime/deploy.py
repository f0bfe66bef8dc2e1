"""Deploying a .seq file: check it, freeze it into a bundle, store a new version when changed.

A version is immutable. Enrollments point at the version they started on, so deploying a
change never alters a running enrollment; redeploying identical content (same sources and
template files, by content hash) changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

import seqlang
from runtime import schema as t
from runtime.bundle import Bundle, BundleError, bundle_program
from runtime.deployed import DeployedSequence, build
from runtime.store import Store
from seqlang.diagnostics import ERROR, Diagnostic

V = t.sequence_versions


class DeployError(Exception):
    """The file cannot be deployed; `diagnostics` holds the check errors when that is why."""

    def __init__(self, message: str, diagnostics: tuple[Diagnostic, ...] = ()) -> None:
        super().__init__("\n".join([message, *(f"  {d.headline()}" for d in diagnostics)]))
        self.summary = message
        self.diagnostics = diagnostics


@dataclass(frozen=True)
class Deployment:
    sequence: str
    version: int
    version_id: int
    content_hash: str
    created: bool  # False: the same content was already the newest version


@dataclass(frozen=True)
class Prepared:
    """A checked file, frozen, with its sequences built once to prove they can run."""

    bundle: Bundle
    ir: dict[str, Any]
    sequences: dict[str, DeployedSequence]


def prepare(path: str | Path) -> Prepared:
    """Check and freeze the file at `path`; refused when `seqlang check` finds errors."""
    errors = tuple(d for d in seqlang.check(path) if d.severity == ERROR)
    if errors:
        count = f"{len(errors)} error{'s' if len(errors) > 1 else ''}"
        raise DeployError(f"{path}: not deployed, `seqlang check` found {count}", errors)
    program = seqlang.load(path)
    if not program.root.sequences:
        raise DeployError(f"{path}: no sequence to deploy")
    try:
        bundle = bundle_program(program)
    except BundleError as error:
        raise DeployError(str(error)) from None
    built = {s.name: build(0, s.name, bundle) for s in program.root.sequences}
    return Prepared(bundle, seqlang.to_json(program.root), built)


def deploy(store: Store, path: str | Path, now: datetime) -> list[Deployment]:
    """Deploy every sequence of the file at `path` (see `prepare` and `store_versions`)."""
    return store_versions(store, prepare(path), now)


def store_versions(store: Store, prepared: Prepared, now: datetime) -> list[Deployment]:
    """A new version for each sequence whose bundle differs from its newest version."""
    bundle, digest = prepared.bundle, prepared.bundle.content_hash
    out = []
    with store.write() as conn:
        for name in prepared.sequences:
            latest = conn.execute(
                sa.select(V.c.id, V.c.version, V.c.content_hash)
                .where(V.c.sequence == name)
                .order_by(V.c.version.desc())
                .limit(1)
            ).first()
            if latest is not None and latest.content_hash == digest:
                out.append(Deployment(name, latest.version, latest.id, digest, False))
                continue
            number = latest.version + 1 if latest is not None else 1
            version_id = conn.execute(
                sa.insert(V).values(
                    sequence=name, version=number, content_hash=digest, root=bundle.root,
                    sources=bundle.sources, files=bundle.files, ir=prepared.ir,
                    deployed_at=now,
                ).returning(V.c.id)
            ).scalar_one()
            out.append(Deployment(name, number, version_id, digest, True))
    return out


def latest_version(conn: Connection, sequence: str) -> int | None:
    """The id of the newest version of `sequence`, which new enrollments start on."""
    return conn.execute(
        sa.select(V.c.id).where(V.c.sequence == sequence).order_by(V.c.version.desc()).limit(1)
    ).scalar()


def deployed(store: Store, version_id: int) -> DeployedSequence:
    """The runnable form of a version, built once per process (versions never change)."""
    found = store.cache.get(version_id)
    if found is None:
        with store.read() as conn:
            row = conn.execute(
                sa.select(V.c.sequence, V.c.root, V.c.sources, V.c.files)
                .where(V.c.id == version_id)
            ).one()
        found = build(version_id, row.sequence, Bundle(row.root, row.sources, row.files))
        store.cache[version_id] = found
    return found
