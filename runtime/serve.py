"""`seqlang serve`: the HTTP API (`runtime.http`) under uvicorn, until Ctrl-C.

It refuses to start without SEQLANG_LINK_SECRET: every link it answers is verified with that
secret, and the workers that write those links must share it. Exit status: 0 after a clean
stop, 2 for a missing secret, an unusable database or a port that cannot be bound.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from types import FrameType

import uvicorn
from sqlalchemy.exc import OperationalError

from runtime import service
from runtime.config import API_TOKEN_ENV, DATABASE_URL_ENV, LINK_SECRET_ENV, EngineConfig
from runtime.http import create_app
from runtime.store import DEFAULT_URL

OK, USAGE = 0, 2


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on "
                        "(default: 127.0.0.1; 0.0.0.0 for every interface)")
    parser.add_argument("--port", type=int, default=8080, help="port (default: 8080)")
    parser.add_argument("--database-url", default=os.environ.get(DATABASE_URL_ENV, DEFAULT_URL),
                        help=f"SQLAlchemy URL (default: ${DATABASE_URL_ENV} or {DEFAULT_URL})")


def run(args: argparse.Namespace) -> int:
    config = EngineConfig.from_env()
    if not config.link_secret:
        print(f"seqlang serve: {LINK_SECRET_ENV} is not set; set it to a long random value, the "
              "same for the workers and the server, e.g.\n"
              f"  export {LINK_SECRET_ENV}=$(python3 -c 'import secrets; "
              "print(secrets.token_urlsafe(32))')", file=sys.stderr)
        return USAGE
    try:
        store = service.open_store(args.database_url)
    except OperationalError as error:
        print(f"seqlang serve: database error: {error.orig}", file=sys.stderr)
        return USAGE
    if config.api_token is None:
        print(f"seqlang serve: {API_TOKEN_ENV} is not set: /events and /enrollments answer 503",
              file=sys.stderr)
    server = uvicorn.Server(uvicorn.Config(create_app(store, config), host=args.host,
                                           port=args.port, server_header=False,
                                           log_level="info"))
    # uvicorn stops gracefully on SIGINT/SIGTERM, then restores the handlers it found and
    # raises the same signal again; finding these no-op handlers there makes a stop exit 0.
    previous = {sig: signal.signal(sig, _ignore) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        server.run()
    except SystemExit:  # uvicorn could not start (it has logged why, e.g. the port is taken)
        return USAGE
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        store.close()
    return OK


def _ignore(signum: int, frame: FrameType | None) -> None:
    """Stands in for the default handlers while uvicorn runs (see `run`)."""
