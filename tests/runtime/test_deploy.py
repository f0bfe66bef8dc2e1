"""Deploying: refused on check errors, versioned by content, frozen against file changes."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from runtime import schema as t
from runtime.deploy import DeployError

FLOW = """
sequence flow {
  from "Ana <ana@example.com>"
  hello: email {
    subject "Hello {{ contact.first_name }}"
    body file "hello.txt.j2"
  }
}
"""
HELLO = "Hi {{ contact.first_name }}, {{ unsubscribe_url }}\n"


def test_deploy_refuses_a_file_with_check_errors_and_stores_nothing(engine):
    broken = FLOW.replace("email {", "email {\n    variant a 60% { subject \"A\" }\n"
                          "    variant b 30% { subject \"B\" }")
    with pytest.raises(DeployError) as refused:
        engine.deploy(broken, {"hello.txt.j2": HELLO})
    assert [d.code for d in refused.value.diagnostics] == ["SEQ030"]
    assert "not deployed" in str(refused.value)
    assert engine.rows(t.sequence_versions) == []


def test_redeploying_unchanged_content_is_a_no_op(engine):
    first = engine.deploy(FLOW, {"hello.txt.j2": HELLO})
    again = engine.deploy(FLOW, {"hello.txt.j2": HELLO})
    assert [(d.version, d.created) for d in first] == [(1, True)]
    assert [(d.version, d.created) for d in again] == [(1, False)]
    assert len(engine.rows(t.sequence_versions)) == 1


def test_a_changed_template_file_makes_a_new_version(engine):
    engine.deploy(FLOW, {"hello.txt.j2": HELLO})
    changed = engine.deploy(FLOW, {"hello.txt.j2": "Changed {{ unsubscribe_url }}"})
    assert [(d.version, d.created) for d in changed] == [(2, True)]
    stored = engine.rows(t.sequence_versions)
    assert [v.files for v in stored] == [{"hello.txt.j2": HELLO},
                                         {"hello.txt.j2": "Changed {{ unsubscribe_url }}"}]
    assert stored[1].ir["format"] == "seqlang-ir"
    assert stored[0].content_hash != stored[1].content_hash


def test_running_enrollments_keep_their_version_and_need_no_files(engine):
    engine.deploy(FLOW, {"hello.txt.j2": HELLO})
    old = engine.enroll(first_name="Ana")
    engine.deploy(FLOW.replace("Hello", "Howdy"), {"hello.txt.j2": HELLO})
    new = engine.enroll(email="bo@example.com", first_name="Bo")
    (engine.folder / "hello.txt.j2").unlink()
    (engine.folder / "flow.seq").unlink()
    engine.tick()
    assert sorted(engine.subjects()) == ["Hello Ana", "Howdy Bo"]
    versions = [v.id for v in engine.rows(t.sequence_versions)]
    assert [engine.row(old).version_id, engine.row(new).version_id] == versions


def test_imported_modules_are_bundled(engine):
    engine.write('template hello {\n  subject "From the library"\n'
                 '  body "Hi {{ unsubscribe_url }}"\n}\n', name="lib/common.seq")
    engine.deploy('import "./lib/common.seq"\n'
                  'sequence flow {\n  from "ana@example.com"\n  email hello\n}\n')
    (engine.folder / "lib" / "common.seq").unlink()
    engine.enroll()
    engine.tick()
    assert engine.subjects() == ["From the library"]
    with engine.store.read() as conn:
        sources = conn.execute(sa.select(t.sequence_versions.c.sources)).scalar_one()
    assert sorted(sources) == ["flow.seq", "lib/common.seq"]
