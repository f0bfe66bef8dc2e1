"""The schema: the migration builds exactly the tables of runtime.schema, on both databases,
and the claim reads the `next_run_at` index rather than every enrollment."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from runtime import schema as t
from runtime.claims import due


def test_the_migrated_database_matches_the_schema_module(store):
    with store.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, t.metadata) == []
        assert context.get_current_revision() == "0001"


def test_the_claim_reads_the_next_run_at_index_among_many_idle_enrollments(store):
    now = datetime(2026, 3, 2, tzinfo=UTC)
    idle, due_now = 5000, 10
    with store.write() as conn:
        version = conn.execute(sa.insert(t.sequence_versions).values(
            sequence="s", version=1, content_hash="0" * 64, root="s.seq", sources={},
            files={}, deployed_at=now).returning(t.sequence_versions.c.id)).scalar_one()
        conn.execute(sa.insert(t.contacts), [
            {"id": n, "email": f"c{n}@example.com", "fields": {}, "created_at": now,
             "updated_at": now} for n in range(1, idle + due_now + 1)])
        conn.execute(sa.insert(t.enrollments), [
            {"version_id": version, "sequence": "s", "contact_id": n, "state": "active",
             "time_zone": "UTC", "position": "wait-1", "visits": {}, "variants": {},
             "cohorts": {}, "enrolled_at": now, "updated_at": now,
             "next_run_at": now + timedelta(days=1 + n % 30) if n > due_now else now}
            for n in range(1, idle + due_now + 1)])
    compiled = due(now, 100).compile(store.engine, compile_kwargs={"literal_binds": True})
    with store.write() as conn:
        conn.exec_driver_sql("ANALYZE")
        if store.dialect == "sqlite":
            rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}")
            plan = " ".join(str(row[-1]) for row in rows)
        else:
            plan = " ".join(row[0] for row in conn.exec_driver_sql(f"EXPLAIN {compiled}"))
            assert "SKIP LOCKED" in str(compiled)
        assert "ix_enrollments_next_run_at" in plan, plan
        assert len(conn.execute(due(now, 100)).all()) == due_now
