"""The engine's tables, as SQLAlchemy Core objects: the one description of the schema.

The Alembic revisions in `runtime/migrations/versions/` create exactly these tables, on SQLite
and on PostgreSQL alike; a test compares the migrated database with this module, so a change
here without a revision (or the reverse) fails. The hot path (claim, reserve, write back) is
plain Core SQL over these objects, never the ORM: a unit-of-work round trip per row costs
several times a set-based statement.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

ENROLLMENT_STATES = ("active", "paused", "completed", "exited", "failed")
UNFINISHED_STATES = ("active", "paused")
SEND_STATES = ("reserved", "sent", "failed", "unknown")
EVENT_KINDS = ("sent", "opened", "clicked", "replied", "bounced", "unsubscribed")
WEBHOOK_STATES = ("pending", "delivered", "failed")

NAME = 200  # sequence names, node ids, lease owners
EMAIL = 320  # RFC 5321: 64 + 1 + 255


class UTCDateTime(sa.TypeDecorator[datetime]):
    """An aware UTC datetime on both databases.

    SQLite has no time zone type and would hand back naive values that Python then reads as
    server-local time; storing UTC and re-attaching UTC on the way out keeps every comparison in
    the engine between aware instants, and keeps SQLite's text ordering equal to time ordering.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is not UTC:
            if value.utcoffset() is None:
                raise ValueError(f"naive datetime {value.isoformat()} given to the store")
            value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def _states(column: str, values: tuple[str, ...], name: str) -> sa.CheckConstraint:
    listed = ", ".join(f"'{v}'" for v in values)
    return sa.CheckConstraint(f"{column} IN ({listed})", name=name)


metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_name)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

sequence_versions = sa.Table(
    "sequence_versions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("sequence", sa.String(NAME), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("content_hash", sa.String(64), nullable=False),
    # The bundle: every .seq source and template file the sequence needs, keyed by its path
    # relative to the root file's folder, so a worker elsewhere needs no files at all.
    sa.Column("root", sa.String(500), nullable=False),
    sa.Column("sources", sa.JSON, nullable=False),
    sa.Column("files", sa.JSON, nullable=False),
    sa.Column("ir", sa.JSON, nullable=True),
    sa.Column("deployed_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("sequence", "version", name="uq_sequence_versions_sequence_version"),
)

contacts = sa.Table(
    "contacts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("email", sa.String(EMAIL), nullable=False, unique=True),
    sa.Column("fields", sa.JSON, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

# Keyed by address, not contact, so an address can be suppressed before it is ever imported.
suppressions = sa.Table(
    "suppressions",
    metadata,
    sa.Column("email", sa.String(EMAIL), primary_key=True),
    sa.Column("reason", sa.String(40), nullable=False),
    sa.Column("event_id", sa.Integer, nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

enrollments = sa.Table(
    "enrollments",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column(
        "version_id", sa.Integer, sa.ForeignKey("sequence_versions.id"), nullable=False
    ),
    sa.Column("sequence", sa.String(NAME), nullable=False),
    sa.Column("contact_id", sa.Integer, sa.ForeignKey("contacts.id"), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("time_zone", sa.String(64), nullable=False),
    # Where the walk stands: a node of the step graph, and what (if anything) it waits for.
    sa.Column("position", sa.String(NAME), nullable=False),
    sa.Column("wait", sa.String(16), nullable=True),
    sa.Column("resume_at", UTCDateTime, nullable=True),
    sa.Column("deadline", UTCDateTime, nullable=True),
    # When a worker should look next; NULL for anything not active, so the index stays small.
    sa.Column("next_run_at", UTCDateTime, nullable=True, index=True),
    sa.Column("visits", sa.JSON, nullable=False),
    sa.Column("variants", sa.JSON, nullable=False),
    sa.Column("cohorts", sa.JSON, nullable=False),
    sa.Column("steps", sa.Integer, nullable=False, server_default="0"),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("reason", sa.Text, nullable=True),
    # Bumped by every event for this enrollment, so a worker that claimed it before the event
    # knows at write-back that it must look again.
    sa.Column("wake_version", sa.Integer, nullable=False, server_default="0"),
    sa.Column("lease_owner", sa.String(NAME), nullable=True),
    sa.Column("lease_expires_at", UTCDateTime, nullable=True),
    # When the lease was last granted or renewed, by the database server's own clock (the
    # engine's clock may be virtual): compared with the server's start time after a crash.
    sa.Column("leased_at", UTCDateTime, nullable=True),
    sa.Column("lease_version", sa.Integer, nullable=False, server_default="0"),
    sa.Column("enrolled_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("finished_at", UTCDateTime, nullable=True),
    _states("state", ENROLLMENT_STATES, "ck_enrollments_state"),
    sa.Index("ix_enrollments_contact_id", "contact_id"),
    # One unfinished run per contact and sequence; finished runs may repeat.
    sa.Index(
        "uq_enrollments_unfinished",
        "sequence",
        "contact_id",
        unique=True,
        sqlite_where=sa.text("state IN ('active', 'paused')"),
        postgresql_where=sa.text("state IN ('active', 'paused')"),
    ),
)

step_history = sa.Table(
    "step_history",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column(
        "enrollment_id", sa.Integer, sa.ForeignKey("enrollments.id"), nullable=False, index=True
    ),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("step", sa.String(NAME), nullable=False),
    sa.Column("detail", sa.JSON, nullable=False),
)

sends = sa.Table(
    "sends",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column(
        "enrollment_id", sa.Integer, sa.ForeignKey("enrollments.id"), nullable=False, index=True
    ),
    sa.Column("step", sa.String(NAME), nullable=False),
    sa.Column("visit", sa.Integer, nullable=False),
    # enrollment/step/visit: the same email of the same pass through a loop is one send, ever.
    sa.Column("idempotency_key", sa.String(300), nullable=False, unique=True),
    sa.Column("state", sa.String(10), nullable=False),
    sa.Column("message_id", sa.String(250), nullable=False, index=True),
    sa.Column("thread_id", sa.String(250), nullable=True),
    sa.Column("provider_id", sa.Text, nullable=True),
    sa.Column("to_address", sa.String(EMAIL), nullable=False),
    sa.Column("subject", sa.Text, nullable=False),
    sa.Column("variant", sa.String(NAME), nullable=True),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="1"),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("reserved_at", UTCDateTime, nullable=False),
    sa.Column("sent_at", UTCDateTime, nullable=True),
    _states("state", SEND_STATES, "ck_sends_state"),
)

events = sa.Table(
    "events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("send_id", sa.Integer, sa.ForeignKey("sends.id"), nullable=False),
    sa.Column(
        "enrollment_id", sa.Integer, sa.ForeignKey("enrollments.id"), nullable=False, index=True
    ),
    sa.Column("step", sa.String(NAME), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("url", sa.Text, nullable=True),
    sa.Column("occurred_at", UTCDateTime, nullable=False),
    sa.Column("recorded_at", UTCDateTime, nullable=False),
    _states("kind", EVENT_KINDS, "ck_events_kind"),
)

tasks = sa.Table(
    "tasks",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column(
        "enrollment_id", sa.Integer, sa.ForeignKey("enrollments.id"), nullable=False, index=True
    ),
    sa.Column("step", sa.String(NAME), nullable=False),
    sa.Column("visit", sa.Integer, nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("done_at", UTCDateTime, nullable=True),
    sa.UniqueConstraint("enrollment_id", "step", "visit", name="uq_tasks_enrollment_step_visit"),
)

# The webhook outbox: rows are written with the walk and delivered after it, so a slow or dead
# receiver never holds up an enrollment.
webhooks = sa.Table(
    "webhooks",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column(
        "enrollment_id", sa.Integer, sa.ForeignKey("enrollments.id"), nullable=False
    ),
    sa.Column("step", sa.String(NAME), nullable=False),
    sa.Column("visit", sa.Integer, nullable=False),
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("state", sa.String(10), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", UTCDateTime, nullable=True, index=True),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("delivered_at", UTCDateTime, nullable=True),
    _states("state", WEBHOOK_STATES, "ck_webhooks_state"),
    sa.UniqueConstraint(
        "enrollment_id", "step", "visit", name="uq_webhooks_enrollment_step_visit"
    ),
)
