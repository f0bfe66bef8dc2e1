"""A worker that dies by SIGKILL around its first send: the child process of test_crash.py.

It runs the real worker tick (claim, reserve, send, record) against the database it is given,
with an outbox transport that kills the process either just before the message is handed on
or just after it was written, as a power cut or an OOM kill would.

Usage: python crash_worker.py DATABASE_URL OUTBOX_FOLDER before-send|after-send
"""

from __future__ import annotations

import os
import signal
import sys

from runtime.message import OutgoingMessage
from runtime.store import connect
from runtime.transports.base import SendReceipt
from runtime.transports.outbox import OutboxTransport
from runtime.worker import Worker, WorkerOptions

MOMENTS = ("before-send", "after-send")


class DyingOutbox(OutboxTransport):
    def __init__(self, folder: str, moment: str) -> None:
        super().__init__(folder)
        self.moment = moment

    def send(self, msg: OutgoingMessage) -> SendReceipt:
        if self.moment == "before-send":
            os.kill(os.getpid(), signal.SIGKILL)
        receipt = super().send(msg)
        os.kill(os.getpid(), signal.SIGKILL)
        return receipt


def main(argv: list[str]) -> int:
    if len(argv) != 3 or argv[2] not in MOMENTS:
        print(__doc__, file=sys.stderr)
        return 2
    url, folder, moment = argv
    worker = Worker(connect(url), DyingOutbox(folder, moment),
                    WorkerOptions(owner="doomed", batch_size=10))
    worker.tick()
    print("the transport was never called: nothing was due", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
