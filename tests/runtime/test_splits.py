"""Splits and variants: fixed per enrollment, recorded, and distributed by their weights."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest

from runtime import schema as t
from runtime.engine import pick

SPLIT = """
sequence flow {
  from "ana@example.com"
  top: split {
    70%: { email { subject "Seventy" body "x {{ unsubscribe_url }}" } }
    30%: { email { subject "Thirty" body "x {{ unsubscribe_url }}" } }
  }
  wait 1 day
  pitch: email {
    variant short 20% { subject "Short" }
    variant long 80% { subject "Long" }
    body "x {{ unsubscribe_url }}"
  }
}
"""


def test_pick_is_a_pure_function_of_enrollment_and_node():
    weights = [50, 25, 25]
    assert [pick(7, "split-1", weights) for _ in range(5)] == [pick(7, "split-1", weights)] * 5
    assert len({pick(n, "split-1", weights) for n in range(50)}) == 3
    assert [pick(n, "a", weights) for n in range(200)] != [pick(n, "b", weights)
                                                          for n in range(200)]


@pytest.mark.parametrize("weights", [[70, 30], [50, 25, 25], [1, 98, 1]])
def test_pick_follows_the_weights(weights):
    n = 20_000
    counts = Counter(pick(e, "split-3", weights) for e in range(1, n + 1))
    for index, weight in enumerate(weights):
        p = weight / 100
        sd = (n * p * (1 - p)) ** 0.5
        assert abs(counts[index] - n * p) <= 4 * sd + 1, (index, counts)


def test_splits_and_variants_are_recorded_and_follow_their_weights(engine):
    engine.deploy(SPLIT)
    ids = [engine.enroll(email=f"c{n}@example.com") for n in range(200)]
    engine.run_until(engine.now + timedelta(days=1))
    rows = {r.id: r for r in engine.rows(t.enrollments)}
    for enrollment in ids:
        assert rows[enrollment].cohorts == {"top": pick(enrollment, "top", [70, 30])}
        expected = ["short", "long"][pick(enrollment, "pitch", [20, 80])]
        assert rows[enrollment].variants == {"pitch": expected}
    subjects = Counter(engine.subjects())
    # 200 draws: 4 standard deviations is about 26 for 70/30 and 23 for 20/80.
    assert abs(subjects["Seventy"] - 140) <= 26
    assert abs(subjects["Short"] - 40) <= 23
    assert subjects["Seventy"] + subjects["Thirty"] == 200
    variants = Counter(s.variant for s in engine.rows(t.sends) if s.step == "pitch")
    assert variants == {"short": subjects["Short"], "long": subjects["Long"]}


def test_a_split_met_again_in_a_loop_keeps_its_cohort(engine):
    engine.deploy("""
contact {
  stop: bool?
}
sequence flow {
  from "ana@example.com"
  top: split {
    50%: { a: email { subject "A" body "x {{ unsubscribe_url }}" } }
    50%: { b: email { subject "B" body "x {{ unsubscribe_url }}" } }
  }
  wait 1 day
  if contact.stop exists { exit }
  goto top
}
""")
    for n in range(6):
        engine.enroll(email=f"c{n}@example.com")
    engine.run_until(engine.now + timedelta(days=3))
    by_contact: dict[str, set[str]] = {}
    for message in engine.transport.sent:
        by_contact.setdefault(message.to, set()).add(message.subject)
    assert all(len(subjects) == 1 for subjects in by_contact.values())
    assert len(engine.transport.sent) == 6 * 4
