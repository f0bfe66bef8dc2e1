"""`seqlang worker`: run the engine's tick every second until told to stop.

An APScheduler `BlockingScheduler` fires one interval job. `coalesce` and `max_instances=1`
mean a tick that outlasts the interval is never run twice at once nor made up for afterwards:
the running tick already drains every due batch, so the skipped runs had nothing to do.
Several workers may share one database; each has its own owner id (host:pid:random) that its
leases carry, so a restarted process never mistakes another's lease, or its own past life's,
for its own.

SIGINT and SIGTERM stop the worker between batches: the batch in hand is finished and written
back, nothing more is claimed, and the process exits 0. A second signal kills it at once,
which is safe too: its leases expire and another worker settles what it left.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import FrameType

import sqlalchemy as sa
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.interval import IntervalTrigger

from runtime import logs
from runtime.config import DATABASE_URL_ENV, TRANSPORT_ENV, EngineConfig, new_owner
from runtime.store import DEFAULT_URL, Store, open_store
from runtime.tick import TickCounts, process_due
from runtime.transports import DEFAULT_TRANSPORT_URL, Transport, parse_transport_url

log = logging.getLogger("seqlang.worker")
Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class WorkerOptions:
    batch_size: int = 100
    interval: float = 1.0  # seconds between ticks
    owner: str = field(default_factory=new_owner)
    config: EngineConfig = field(default_factory=EngineConfig)


class Worker:
    """Ticks against one store and transport; `tick` is safe to call from any one thread."""

    def __init__(self, store: Store, transport: Transport, options: WorkerOptions,
                 clock: Clock = utc_now) -> None:
        self.store = store
        self.transport = transport
        self.options = options
        self.clock = clock
        self._stopping = threading.Event()
        self._busy = threading.Lock()

    def tick(self) -> TickCounts:
        """Process due work batch after batch until a batch comes back short or a stop is
        requested; a backlog therefore drains at full speed instead of a batch a second."""
        total = TickCounts()
        with self._busy:
            while not self._stopping.is_set():
                counts = process_due(self.store, self.transport, self.clock(),
                                     self.options.owner, self.options.batch_size,
                                     self.options.config)
                total += counts
                if counts.claimed < self.options.batch_size:
                    break
        if total.claimed or total.webhooks_delivered or total.webhooks_failed:
            log.info("tick: %s", _summary(total))
        return total

    def _scheduled_tick(self) -> None:
        try:
            self.tick()
        except Exception:
            # The database may be restarting; the next tick tries again, and leases taken
            # before the failure expire on their own.
            log.exception("tick failed; trying again at the next one")

    def stop(self) -> None:
        """Ask a running tick to end after its current batch."""
        self._stopping.set()

    def run_forever(self) -> None:
        """Tick every `interval` seconds until SIGINT or SIGTERM."""
        scheduler = BlockingScheduler(timezone=UTC,
                                      executors={"default": ThreadPoolExecutor(1)})
        scheduler.add_job(
            self._scheduled_tick,
            IntervalTrigger(seconds=self.options.interval, timezone=UTC),
            id="tick",
            coalesce=True,
            max_instances=1,
            misfire_grace_time=max(1, math.ceil(self.options.interval)),
            next_run_time=utc_now(),
        )

        def on_signal(signum: int, _frame: FrameType | None) -> None:
            # Only flags are touched here: the handler interrupts the scheduler's own loop at
            # any point, so the shutdown runs in a thread that takes the scheduler's locks.
            self.stop()
            for sig in previous:
                signal.signal(sig, signal.SIG_DFL)
            log.info("%s: stopping after the current batch (again to stop at once)",
                     signal.Signals(signum).name)
            threading.Thread(target=_shut_down, args=(scheduler,), daemon=True).start()

        previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
        log.info("worker %s: ticking every %gs; Ctrl-C to stop", self.options.owner,
                 self.options.interval)
        try:
            scheduler.start()
        finally:
            self.stop()
            with self._busy:  # a tick started outside the scheduler ends here too
                pass
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def _shut_down(scheduler: BlockingScheduler) -> None:
    """Stop the scheduler once the running tick (if any) has finished its batch."""
    while not scheduler.running:  # a signal that arrived while it was starting
        time.sleep(0.01)
    scheduler.shutdown(wait=True)


def _summary(counts: TickCounts) -> str:
    return ", ".join(f"{k} {v}" for k, v in vars(counts).items() if v)


def database_url(given: str | None) -> str:
    return given or os.environ.get(DATABASE_URL_ENV) or DEFAULT_URL


def transport_url(given: str | None) -> str:
    return given or os.environ.get(TRANSPORT_ENV) or DEFAULT_TRANSPORT_URL


def redacted(url: str) -> str:
    """The URL with any password hidden, fit for a log line."""
    try:
        return sa.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return url


def add_worker_arguments(parser: argparse.ArgumentParser) -> None:
    """The options `seqlang worker` and `seqlang run` share."""
    parser.add_argument("--database-url", metavar="URL",
                        help=f"the engine's database (default: ${DATABASE_URL_ENV} or "
                             f"{DEFAULT_URL})")
    parser.add_argument("--transport", metavar="URL",
                        help=f"where emails go (default: ${TRANSPORT_ENV} or "
                             f"{DEFAULT_TRANSPORT_URL})")
    parser.add_argument("--batch-size", type=_positive_int, default=100, metavar="N",
                        help="enrollments claimed per batch (default: 100)")
    parser.add_argument("--interval", type=_positive_float, default=1.0, metavar="SECONDS",
                        help="seconds between ticks (default: 1)")
    parser.add_argument("--log-format", choices=logs.FORMATS, default="text",
                        help="one line per step as key=value text or JSON (default: text)")
    parser.add_argument("--owner", metavar="ID",
                        help="this worker's lease owner id (default: host:pid:random)")


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    add_worker_arguments(parser)


class SetupError(Exception):
    """The database or the transport the options name cannot be used."""


def start(args: argparse.Namespace, config: EngineConfig) -> tuple[Worker, str]:
    """The Worker for the store and transport `args` name, and a line describing it."""
    db_url, out_url = database_url(args.database_url), transport_url(args.transport)
    try:
        transport = parse_transport_url(out_url)
    except ValueError as error:
        raise SetupError(f"--transport: {error}") from None
    try:
        store = open_store(db_url)
    except (sa.exc.SQLAlchemyError, ValueError) as error:
        why = getattr(error, "orig", None) or error
        raise SetupError(f"database {redacted(db_url)}: {why}") from None
    options = WorkerOptions(batch_size=args.batch_size, interval=args.interval,
                            owner=args.owner or new_owner(), config=config)
    described = (f"worker {options.owner}: database {redacted(db_url)}, transport "
                 f"{out_url.partition(':')[0]}, batches of {args.batch_size}")
    return Worker(store, transport, options), described


def serve(worker: Worker, described: str) -> int:
    log.info("%s", described)
    try:
        worker.run_forever()
    except KeyboardInterrupt:  # Ctrl-C before the worker's own handler was in place
        pass
    finally:
        worker.store.close()
    log.info("worker %s stopped", worker.options.owner)
    return 0


def run(args: argparse.Namespace) -> int:
    logs.configure(args.log_format)
    try:
        worker, described = start(args, EngineConfig.from_env())
    except SetupError as error:
        log.error("seqlang worker: %s", error)
        return 2
    return serve(worker, described)


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a number of seconds above 0, got {text}")
    return value
