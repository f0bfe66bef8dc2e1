"""The engine's first schema: versions, contacts, suppressions, enrollments, history, sends,
events, tasks and the webhook outbox.

Revision ID: 0001
Revises:
Create Date: 2025-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

NAME = 200
EMAIL = 320
UNFINISHED = "state IN ('active', 'paused')"


def _time(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _references(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=f"fk_{table}_{column}_{target}"
    )


def upgrade() -> None:
    op.create_table(
        "sequence_versions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("sequence", sa.String(NAME), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("root", sa.String(500), nullable=False),
        sa.Column("sources", sa.JSON, nullable=False),
        sa.Column("files", sa.JSON, nullable=False),
        sa.Column("ir", sa.JSON, nullable=True),
        _time("deployed_at"),
        sa.PrimaryKeyConstraint("id", name="pk_sequence_versions"),
        sa.UniqueConstraint("sequence", "version", name="uq_sequence_versions_sequence_version"),
    )
    op.create_table(
        "contacts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("email", sa.String(EMAIL), nullable=False),
        sa.Column("fields", sa.JSON, nullable=False),
        _time("created_at"),
        _time("updated_at"),
        sa.PrimaryKeyConstraint("id", name="pk_contacts"),
        sa.UniqueConstraint("email", name="uq_contacts_email"),
    )
    op.create_table(
        "suppressions",
        sa.Column("email", sa.String(EMAIL), nullable=False),
        sa.Column("reason", sa.String(40), nullable=False),
        sa.Column("event_id", sa.Integer, nullable=True),
        _time("created_at"),
        sa.PrimaryKeyConstraint("email", name="pk_suppressions"),
    )
    op.create_table(
        "enrollments",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("version_id", sa.Integer, nullable=False),
        sa.Column("sequence", sa.String(NAME), nullable=False),
        sa.Column("contact_id", sa.Integer, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("time_zone", sa.String(64), nullable=False),
        sa.Column("position", sa.String(NAME), nullable=False),
        sa.Column("wait", sa.String(16), nullable=True),
        _time("resume_at", nullable=True),
        _time("deadline", nullable=True),
        _time("next_run_at", nullable=True),
        sa.Column("visits", sa.JSON, nullable=False),
        sa.Column("variants", sa.JSON, nullable=False),
        sa.Column("cohorts", sa.JSON, nullable=False),
        sa.Column("steps", sa.Integer, nullable=False, server_default="0"),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("wake_version", sa.Integer, nullable=False, server_default="0"),
        sa.Column("lease_owner", sa.String(NAME), nullable=True),
        _time("lease_expires_at", nullable=True),
        _time("leased_at", nullable=True),
        sa.Column("lease_version", sa.Integer, nullable=False, server_default="0"),
        _time("enrolled_at"),
        _time("updated_at"),
        _time("finished_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_enrollments"),
        _references("enrollments", "version_id", "sequence_versions"),
        _references("enrollments", "contact_id", "contacts"),
        sa.CheckConstraint(
            "state IN ('active', 'paused', 'completed', 'exited', 'failed')",
            name="ck_enrollments_state",
        ),
    )
    op.create_index("ix_enrollments_next_run_at", "enrollments", ["next_run_at"])
    op.create_index("ix_enrollments_contact_id", "enrollments", ["contact_id"])
    op.create_index(
        "uq_enrollments_unfinished",
        "enrollments",
        ["sequence", "contact_id"],
        unique=True,
        sqlite_where=sa.text(UNFINISHED),
        postgresql_where=sa.text(UNFINISHED),
    )
    op.create_table(
        "step_history",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("enrollment_id", sa.Integer, nullable=False),
        _time("at"),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("step", sa.String(NAME), nullable=False),
        sa.Column("detail", sa.JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_step_history"),
        _references("step_history", "enrollment_id", "enrollments"),
    )
    op.create_index("ix_step_history_enrollment_id", "step_history", ["enrollment_id"])
    op.create_table(
        "sends",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("enrollment_id", sa.Integer, nullable=False),
        sa.Column("step", sa.String(NAME), nullable=False),
        sa.Column("visit", sa.Integer, nullable=False),
        sa.Column("idempotency_key", sa.String(300), nullable=False),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("message_id", sa.String(250), nullable=False),
        sa.Column("thread_id", sa.String(250), nullable=True),
        sa.Column("provider_id", sa.Text, nullable=True),
        sa.Column("to_address", sa.String(EMAIL), nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("variant", sa.String(NAME), nullable=True),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="1"),
        sa.Column("error", sa.Text, nullable=True),
        _time("reserved_at"),
        _time("sent_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_sends"),
        _references("sends", "enrollment_id", "enrollments"),
        sa.UniqueConstraint("idempotency_key", name="uq_sends_idempotency_key"),
        sa.CheckConstraint(
            "state IN ('reserved', 'sent', 'failed', 'unknown')", name="ck_sends_state"
        ),
    )
    op.create_index("ix_sends_enrollment_id", "sends", ["enrollment_id"])
    op.create_index("ix_sends_message_id", "sends", ["message_id"])
    op.create_table(
        "events",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("send_id", sa.Integer, nullable=False),
        sa.Column("enrollment_id", sa.Integer, nullable=False),
        sa.Column("step", sa.String(NAME), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("url", sa.Text, nullable=True),
        _time("occurred_at"),
        _time("recorded_at"),
        sa.PrimaryKeyConstraint("id", name="pk_events"),
        _references("events", "send_id", "sends"),
        _references("events", "enrollment_id", "enrollments"),
        sa.CheckConstraint(
            "kind IN ('sent', 'opened', 'clicked', 'replied', 'bounced', 'unsubscribed')",
            name="ck_events_kind",
        ),
    )
    op.create_index("ix_events_enrollment_id", "events", ["enrollment_id"])
    op.create_table(
        "tasks",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("enrollment_id", sa.Integer, nullable=False),
        sa.Column("step", sa.String(NAME), nullable=False),
        sa.Column("visit", sa.Integer, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        _time("created_at"),
        _time("done_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_tasks"),
        _references("tasks", "enrollment_id", "enrollments"),
        sa.UniqueConstraint("enrollment_id", "step", "visit",
                            name="uq_tasks_enrollment_step_visit"),
    )
    op.create_index("ix_tasks_enrollment_id", "tasks", ["enrollment_id"])
    op.create_table(
        "webhooks",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("enrollment_id", sa.Integer, nullable=False),
        sa.Column("step", sa.String(NAME), nullable=False),
        sa.Column("visit", sa.Integer, nullable=False),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        _time("next_attempt_at", nullable=True),
        sa.Column("last_error", sa.Text, nullable=True),
        _time("created_at"),
        _time("delivered_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_webhooks"),
        _references("webhooks", "enrollment_id", "enrollments"),
        sa.UniqueConstraint("enrollment_id", "step", "visit",
                            name="uq_webhooks_enrollment_step_visit"),
        sa.CheckConstraint(
            "state IN ('pending', 'delivered', 'failed')", name="ck_webhooks_state"
        ),
    )
    op.create_index("ix_webhooks_next_attempt_at", "webhooks", ["next_attempt_at"])


def downgrade() -> None:
    for table in ("webhooks", "tasks", "events", "sends", "step_history", "enrollments",
                  "suppressions", "contacts", "sequence_versions"):
        op.drop_table(table)
