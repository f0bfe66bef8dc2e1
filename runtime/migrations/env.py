"""Alembic environment: runs on the connection `runtime.store.migrate` hands over.

Run from the command line (to write a new revision) it connects to the URL given with
`-x url=...`, else to $SEQLANG_DATABASE_URL, else to the default SQLite file.
"""

from __future__ import annotations

import os

from alembic import context

from runtime.schema import metadata
from runtime.store import DEFAULT_URL, connect

config = context.config


def _run(connection: object) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=True,  # SQLite alters tables by copying them
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


given = config.attributes.get("connection")
if given is not None:
    _run(given)
else:
    url = context.get_x_argument(as_dictionary=True).get("url") or os.environ.get(
        "SEQLANG_DATABASE_URL", DEFAULT_URL
    )
    store = connect(url)
    try:
        with store.write() as conn:
            _run(conn)
    finally:
        store.close()
