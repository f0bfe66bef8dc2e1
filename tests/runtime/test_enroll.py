"""Enrolling: one unfinished run per contact and sequence; CSV rows checked and reported by line."""

from __future__ import annotations

from datetime import timedelta

import pytest

from runtime import schema as t
from runtime.enroll import EnrollError, enroll_csv
from runtime.events import suppress

FLOW = """
contact {
  first_name: string
  seats: number?
  timezone: string?
}
sequence flow {
  from "Ana <ana@example.com>"
  timezone contact.timezone default "Europe/Paris"
  wait 2 days
  email { subject "Hi {{ contact.first_name }}" body "Hello {{ unsubscribe_url }}" }
}
"""


def test_enrolling_the_same_contact_twice_in_an_unfinished_run_is_refused(engine):
    engine.deploy(FLOW)
    first = engine.enroll(first_name="Ana")
    with pytest.raises(EnrollError, match="already in an unfinished run of flow"):
        engine.enroll(email="ANA@example.com", first_name="Ana")
    assert [e.id for e in engine.rows(t.enrollments)] == [first]


def test_a_finished_run_can_be_followed_by_a_new_one(engine):
    engine.deploy(FLOW)
    first = engine.enroll(first_name="Ana")
    engine.run_until(engine.now + timedelta(days=3))
    assert engine.row(first).state == "completed"
    second = engine.enroll(first_name="Ana")
    assert second != first and engine.row(second).state == "active"


def test_enrolling_needs_a_deployed_sequence(engine):
    with pytest.raises(EnrollError, match="not deployed"):
        engine.enroll("nowhere")


def test_a_suppressed_address_is_not_enrolled(engine):
    engine.deploy(FLOW)
    suppress(engine.store, "ana@example.com", "unsubscribed", engine.now)
    with pytest.raises(EnrollError, match="suppressed"):
        engine.enroll(first_name="Ana")


def test_csv_bad_rows_are_reported_by_line_and_skipped_the_rest_enrolled(engine):
    engine.deploy(FLOW)
    csv = engine.folder / "contacts.csv"
    csv.write_text(
        "email,first_name,seats,timezone\n"          # line 1
        "ana@example.com,Ana,3,America/New_York\n"   # 2 ok
        "not-an-address,Bo,1,\n"                      # 3 bad address
        "cy@example.com,,2,\n"                        # 4 missing required first_name
        "di@example.com,Di,many,\n"                   # 5 seats is not a number
        '"ed@example.com","Ed\nthe second",4,\n'      # 6-7 ok, quoted newline
        "ana@example.com,Ana again,1,\n"              # 8 duplicate of line 2
        "fi@example.com,Fi\n"                         # 9 too few cells
        "\n"                                          # 10 blank: ignored
        "gu@example.com,Gu,,Not/A_Zone\n",            # 11 ok, bad zone falls back
        encoding="utf-8",
    )
    report = enroll_csv(engine.store, "flow", csv, engine.now)
    assert [(e.line, e.message) for e in report.errors] == [
        (3, "'not-an-address' is not an email address (needs exactly one @)"),
        (4, "missing required field first_name"),
        (5, "seats: 'many' is not a number"),
        (8, "ana@example.com is already in an unfinished run of flow (enrollment "
            f"{report.enrolled[0]})"),
        (9, "2 cells where the header has 4"),
    ]
    contacts = {c.email: c for c in engine.rows(t.contacts)}
    assert sorted(contacts) == ["ana@example.com", "ed@example.com", "gu@example.com"]
    assert contacts["ana@example.com"].fields == {"first_name": "Ana", "seats": 3,
                                                  "timezone": "America/New_York"}
    assert contacts["ed@example.com"].fields["first_name"] == "Ed\nthe second"
    zones = [e.time_zone for e in engine.rows(t.enrollments)]
    assert zones == ["America/New_York", "Europe/Paris", "Europe/Paris"]
    assert len(report.enrolled) == 3


def test_a_csv_without_an_email_column_is_refused_whole(engine):
    engine.deploy(FLOW)
    csv = engine.folder / "contacts.csv"
    csv.write_text("address,first_name\nana@example.com,Ana\n", encoding="utf-8")
    with pytest.raises(EnrollError, match="line 1: the header has no `email` column"):
        enroll_csv(engine.store, "flow", csv, engine.now)
    assert engine.rows(t.contacts) == []
