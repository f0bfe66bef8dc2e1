"""Exponential backoff with jitter, shared by email retries and webhook deliveries."""

from __future__ import annotations

import hashlib
from datetime import timedelta


def backoff(attempt: int, seed: str, base: timedelta, cap: timedelta) -> timedelta:
    """base * 2^(attempt-1), capped, then scaled into [50%, 100%].

    The jitter is a hash of (seed, attempt) rather than a random draw: retries of one batch
    still spread out, and a test can predict every delay.
    """
    ceiling = min(base * 2 ** (attempt - 1), cap)
    digest = hashlib.sha256(f"{seed}\x00{attempt}".encode()).digest()
    return ceiling * (0.5 + digest[0] / 510)
