"""Each kind of step, walked by the engine against a real store."""

from __future__ import annotations

import email
import json
from datetime import timedelta

from runtime import schema as t
from runtime.config import EngineConfig
from runtime.service import complete_task, list_tasks

SENDER = 'from "Ana Silva <ana@example.com>"'


def flow(steps: str, settings: str = "", fields: str = "") -> str:
    contact = f"contact {{\n{fields}\n}}\n" if fields else ""
    return f"{contact}sequence flow {{\n  {SENDER}\n{settings}\n{steps}\n}}\n"


def test_an_email_is_rendered_sent_and_recorded(engine):
    engine.deploy(flow('''
  hello: email {
    subject "Welcome, {{ contact.first_name }}"
    body """
      <p>Hi {{ contact.first_name }} from {{ sender.name }}</p>
      <p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p>
    """
  }''', fields="  first_name: string"))
    enrollment = engine.enroll(first_name="Bo")
    counts = engine.tick()
    assert (counts.claimed, counts.sent, counts.completed) == (1, 1, 1)
    [msg] = engine.transport.sent
    parsed = email.message_from_bytes(msg.raw)
    assert parsed["Subject"] == "Welcome, Bo"
    assert parsed["From"] == "Ana Silva <ana@example.com>"
    assert parsed["To"] == "ana@example.com"
    assert parsed["Date"] == "Mon, 02 Mar 2026 14:00:00 +0000"
    assert parsed["List-Unsubscribe"].startswith(
        f"<http://127.0.0.1:8080/unsubscribe?t={enrollment}.hello.1.")
    html = parsed.get_payload()[1].get_payload(decode=True).decode()
    assert "Hi Bo from Ana Silva" in html
    [send] = engine.rows(t.sends)
    assert (send.state, send.step, send.visit, send.message_id) == ("sent", "hello", 1,
                                                                    msg.message_id)
    assert send.idempotency_key == f"{enrollment}/hello/1"
    assert [e.kind for e in engine.rows(t.events)] == ["sent"]
    assert engine.history(enrollment) == [("sent", "hello"), ("completed", "<exit>")]


def test_reply_to_threads_under_the_earlier_email(engine):
    engine.deploy(flow('''
  welcome: email { subject "Welcome" body "One {{ unsubscribe_url }}" }
  wait 1 hour
  nudge: email reply to welcome { body "Two {{ unsubscribe_url }}" }
  wait 1 hour
  last: email reply to welcome { subject "Still there?" body "Three {{ unsubscribe_url }}" }'''))
    engine.enroll()
    engine.run_until(engine.now + timedelta(hours=3))
    first, second, third = engine.transport.sent
    assert [m.subject for m in (first, second, third)] == ["Welcome", "Re: Welcome",
                                                           "Still there?"]
    assert second.in_reply_to == first.message_id
    assert email.message_from_bytes(second.raw)["References"] == first.message_id
    assert third.in_reply_to == first.message_id
    assert email.message_from_bytes(third.raw)["References"].split() == [
        second.message_id, first.message_id]
    threads = {s.step: s.thread_id for s in engine.rows(t.sends)}
    assert threads == {"welcome": first.message_id, "nudge": first.message_id,
                       "last": first.message_id}


def test_wait_holds_the_next_email_until_it_ends(engine):
    engine.deploy(flow('''
  wait 2 hours
  email { subject "Later" body "x {{ unsubscribe_url }}" }'''))
    enrollment = engine.enroll()
    engine.tick()
    row = engine.row(enrollment)
    assert (row.position, row.wait, row.next_run_at) == ("wait-1", "wait",
                                                        engine.now + timedelta(hours=2))
    assert engine.later(minutes=119).claimed == 0
    assert engine.later(minutes=1).sent == 1


def test_if_else_takes_the_branch_the_condition_picks(engine):
    engine.deploy(flow('''
  if contact.seats > 10 {
    big: email { subject "Big" body "x {{ unsubscribe_url }}" }
  } else if contact.seats exists {
    small: email { subject "Small" body "x {{ unsubscribe_url }}" }
  } else {
    unknown: email { subject "Unknown" body "x {{ unsubscribe_url }}" }
  }''', fields="  seats: number?"))
    engine.enroll(email="a@example.com", seats=25)
    engine.enroll(email="b@example.com", seats="3")
    engine.enroll(email="c@example.com")
    engine.tick()
    assert sorted(engine.subjects()) == ["Big", "Small", "Unknown"]
    routes = [json.dumps(h.detail["route"]) for h in engine.rows(t.step_history, kind="branch")]
    assert sorted(routes) == ['"else"', '"then:0"', '"then:1"']


def test_exit_ends_the_enrollment_with_its_reason(engine):
    engine.deploy(flow('''
  if contact.plan == "free" { exit "not a customer" }
  email { subject "Hi" body "x {{ unsubscribe_url }}" }''', fields="  plan: string"))
    free = engine.enroll(email="free@example.com", plan="free")
    paid = engine.enroll(email="paid@example.com", plan="pro")
    engine.tick()
    assert (engine.row(free).state, engine.row(free).reason) == ("exited", "not a customer")
    assert engine.row(paid).state == "completed"
    assert engine.subjects() == ["Hi"]


def test_a_task_is_kept_listed_and_completable_and_the_walk_goes_on(engine):
    engine.deploy(flow('''
  call: task "Call {{ contact.first_name }} about the trial"
  email { subject "After the task" body "x {{ unsubscribe_url }}" }''',
                       fields="  first_name: string?"))
    enrollment = engine.enroll()
    engine.tick()
    [task] = list_tasks(engine.store)
    assert (task["enrollment_id"], task["step"], task["email"]) == (enrollment, "call",
                                                                    "ana@example.com")
    assert task["text"] == "Call {{ contact.first_name }} about the trial"
    assert engine.subjects() == ["After the task"]
    complete_task(engine.store, task["id"], engine.now)
    assert list_tasks(engine.store) == []
    assert len(list_tasks(engine.store, open_only=False)) == 1


def test_a_webhook_is_queued_and_never_blocks_the_walk(engine):
    engine.deploy(flow('''
  hook: webhook "http://127.0.0.1:9/unreachable"
  email { subject "After the hook" body "x {{ unsubscribe_url }}" }''',
                       fields="  first_name: string"))
    enrollment = engine.enroll(first_name="Ana")
    counts = engine.tick()
    assert engine.subjects() == ["After the hook"]
    assert engine.row(enrollment).state == "completed"
    [hook] = engine.rows(t.webhooks)
    body = json.loads(hook.body)
    assert (body["enrollment"], body["step"], body["sequence"]) == (enrollment, "hook", "flow")
    assert body["contact"] == {"email": "ana@example.com", "fields": {"first_name": "Ana"}}
    # No secret is configured: nothing is posted unsigned, and the row waits for a retry.
    assert (hook.state, counts.webhooks_retrying) == ("pending", 1)
    assert "SEQLANG_WEBHOOK_SECRET" in hook.last_error


def test_goto_loops_count_visits_so_each_pass_sends_its_own_email(engine):
    engine.deploy(flow('''
  top: email { subject "Pass {{ step.visit }}" body "x {{ unsubscribe_url }}" }
  wait 1 day
  if contact.loops == 1 { exit "done" }
  goto top''', fields="  loops: number"))
    enrollment = engine.enroll(loops=2)
    engine.run_until(engine.now + timedelta(days=3, hours=1))
    assert engine.subjects() == ["Pass 1", "Pass 2", "Pass 3", "Pass 4"]
    keys = [s.idempotency_key for s in engine.rows(t.sends)]
    assert keys == [f"{enrollment}/top/{n}" for n in (1, 2, 3, 4)]
    assert engine.row(enrollment).visits["top"] == 4


def test_the_step_budget_stops_a_loop_that_never_waits(engine):
    engine.deploy(flow('''
  top: task "spin"
  goto top  # seq: ignore[SEQ021]'''))
    enrollment = engine.enroll()
    engine.config = EngineConfig(max_steps=50)
    counts = engine.tick()
    row = engine.row(enrollment)
    assert (counts.failed, row.state) == (1, "failed")
    assert row.reason.startswith("step budget of 50 steps used up")
    assert row.steps == 51
    assert engine.rows(t.tasks)[-1].visit == 25


def test_wait_until_waits_for_the_local_moment_and_passes_when_past(engine):
    engine.deploy(flow('''
  wait until 2026-03-03T08:30
  email { subject "Morning" body "x {{ unsubscribe_url }}" }
  wait until 2020-01-01T00:00
  email { subject "Right after" body "x {{ unsubscribe_url }}" }''',
                       settings='  timezone "Europe/Paris"'))
    enrollment = engine.enroll()
    engine.tick()
    assert engine.row(enrollment).next_run_at.isoformat() == "2026-03-03T07:30:00+00:00"
    engine.run_until(engine.now + timedelta(days=2))
    assert engine.subjects() == ["Morning", "Right after"]
    assert {s.sent_at.isoformat() for s in engine.rows(t.sends)} == {"2026-03-03T07:30:00+00:00"}
