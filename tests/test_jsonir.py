"""The JSON IR: what the builder relies on when it reads and writes `seqlang-ir` documents.

Round trips run over every .seq file of the project that parses (test cases,
examples, stdlib; globbed when the tests are collected) and over SAMPLE, which
uses every form of the language.
"""

from __future__ import annotations

import copy
import json
import random
import tomllib
from dataclasses import fields, is_dataclass
from fnmatch import fnmatch
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

import seqlang
from seqlang import nodes as n
from seqlang.cli import main
from seqlang.diagnostics import SeqSyntaxError
from seqlang.graph import lower, step_ids, step_kind
from seqlang.jsonir import JsonIRError, dumps, from_json, schema, to_json
from seqlang.parser import parse

ROOT = Path(__file__).resolve().parent.parent

SAMPLE = '''\
# Every form of the language, for the JSON IR round trips.
import "std/schedules"
import "./common.seq"   # a relative import

schedule support {
  days mon-wed, fri, sat-sun
  hours 08:30-12:00, 13:00-24:00
  holidays "US", "US-CA"
}

contact {
  first_name: string
  seats: number?
  vip: bool?
  renewal: date?
  plan: string?
  timezone: string?
}

template intro {
  subject "Hello {{ contact.first_name }}"
  text file "intro.txt.j2"
  html """
    <p>Hello "there"</p>
    <a href="{{ unsubscribe_url }}">unsubscribe</a>
  """
  from "Sales <sales@example.com>"
  variant short 30% { subject "Hi" body "Short\\tone" }
  variant long 70% { subject "Hello there" }
}

sequence everything {
  name "Every form"
  from "Ana <ana@example.com>"
  timezone contact.timezone default "America/New_York"
  send on support
  track opens
  exit when (replied or bounced) and not unsubscribed

  intro: email intro
  wait 2 days   # after the first email
  wait 3 business hours
  wait 1 business day
  wait 90 minutes
  wait 1 hour
  wait 1 week
  wait until 2026-12-01T09:00
  if opened(intro) and clicked(intro, "https://example.com/pricing") {
    task "Call {{ contact.first_name }}"
  } else if contact.seats > 10 or contact.plan in ["pro", "team", 3, 2.5, false] {
    webhook "https://hooks.example.com/seqlang"
  } else if contact.vip == true and contact.seats <= 2.5 and contact.seats >= 1 {
  } else if contact.seats < 1 or contact.plan != "free" or contact.plan contains "pro" {
    # nothing to do here
  } else {
    exit "not interested"
  }
  if replied(intro) within 4 hours {
    reply: email intro reply to intro { body "Thanks\\nfor replying \\"really\\"" }
  } else {
    goto intro
  }
  split {
    70%: { wait 1 day }
    30%: { }
  }
  if not (contact.timezone exists or replied) { exit }
}

sequence paris {
  timezone "Europe/Paris"
  track none
  exit when bounced
  done: exit
}

sequence quiet {
  timezone contact.timezone
  track opens, clicks
  if unsubscribed { } else { }
}
'''


def _sources() -> list[tuple[str, str]]:
    """(path relative to the repository, text) of SAMPLE and of every project .seq that parses.

    Only `NAME.seq` counts: `NAME.formatted.seq` is another suite's expected output.
    """
    found = [("sample.seq", SAMPLE)]
    for pattern in ("tests/cases/*.seq", "examples/*.seq", "stdlib/*.seq"):
        for path in sorted(ROOT.glob(pattern)):
            if len(path.suffixes) > 1:
                continue
            rel = path.relative_to(ROOT).as_posix()
            text = path.read_text(encoding="utf-8")
            try:
                parse(text, rel)
            except SeqSyntaxError:
                continue
            found.append((rel, text))
    return found


SOURCES = _sources()
ALL = pytest.mark.parametrize(("path", "text"), SOURCES, ids=[p for p, _ in SOURCES])
PARSING_CASES = [ROOT / p for p, _ in SOURCES if p.startswith("tests/cases/")]


def _strip_spans(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_spans(v) for k, v in value.items()
                if k != "span" and not k.endswith("_span")}
    if isinstance(value, list):
        return [_strip_spans(v) for v in value]
    return value


def _spans(node: Any, where: str = "module") -> list[tuple[str, n.Span]]:
    """Every span in an IR tree with where it sits, Ref and Comment spans included."""
    if isinstance(node, n.Span):
        return [(where, node)]
    if isinstance(node, tuple):
        return [s for i, item in enumerate(node) for s in _spans(item, f"{where}[{i}]")]
    if is_dataclass(node):
        return [s for f in fields(node) for s in _spans(getattr(node, f.name), f"{where}.{f.name}")]
    return []


def _decompile(document: dict) -> str:
    return seqlang.format(from_json(document))


# ---- guarantees over every module --------------------------------------------------


@ALL
def test_document_validates_against_the_schema(path: str, text: str) -> None:
    document = to_json(parse(text, path))
    assert list(Draft202012Validator(schema()).iter_errors(document)) == []


@ALL
def test_from_json_gives_back_an_equal_module_with_every_span(path: str, text: str) -> None:
    module = parse(text, path)
    back = from_json(json.loads(dumps(to_json(module))))
    assert back == module
    assert _spans(back) == _spans(module)
    assert back.comments == module.comments
    assert [c.span for c in back.comments] == [c.span for c in module.comments]


@ALL
def test_decompiled_compile_formats_like_the_source(path: str, text: str) -> None:
    document = json.loads(dumps(to_json(parse(text, path))))
    assert seqlang.format(_decompile(document), path) == seqlang.format(text, path)


@ALL
def test_compiling_the_decompiled_text_gives_the_document_back(path: str, text: str) -> None:
    canonical = to_json(parse(seqlang.format(text, path), path))
    again = to_json(parse(_decompile(canonical), path))
    assert _strip_spans(again) == _strip_spans(canonical)


@ALL
def test_decompiling_keeps_everything_of_a_document_from_any_layout(path: str, text: str) -> None:
    """From text in any layout, comments may change order (the formatter moves a comment out of
    a line it joins) but none is lost, and every declaration comes back."""
    document = _strip_spans(to_json(parse(text, path)))
    again = _strip_spans(to_json(parse(_decompile(document), path)))
    comments = again["module"].pop("comments")
    assert sorted(c["text"] for c in comments) == sorted(
        c["text"] for c in document["module"].pop("comments"))
    assert again == document


@pytest.mark.parametrize("case", PARSING_CASES, ids=[p.name for p in PARSING_CASES])
def test_golden_document(case: Path, golden) -> None:
    rel = case.relative_to(ROOT).as_posix()
    actual = dumps(to_json(parse(case.read_text(encoding="utf-8"), rel)))
    golden(case.with_name(case.stem + ".ir.json"), actual)


# ---- the document's shape ---------------------------------------------------------


def _sample() -> dict:
    return to_json(parse(SAMPLE, "sample.seq"))


def _sequence(document: dict, name: str) -> dict:
    return next(d for d in document["module"]["decls"]
                if d["kind"] == "sequence" and d["name"] == name)


def test_document_header_and_tagged_conditions() -> None:
    document = _sample()
    assert (document["format"], document["version"]) == ("seqlang-ir", 1)
    seq = _sequence(document, "everything")
    first_if = seq["steps"][8]
    assert _strip_spans(first_if["branches"][0]["cond"]) == {"op": "and", "operands": [
        {"event": "opened", "step": "intro", "url": None},
        {"event": "clicked", "step": "intro", "url": "https://example.com/pricing"},
    ]}
    assert _strip_spans(first_if["branches"][1]["cond"]["operands"]) == [
        {"field": "seats", "op": ">", "value": 10},
        {"field": "plan", "op": "in", "value": ["pro", "team", 3, 2.5, False]},
    ]
    assert seq["steps"][1]["duration"]["span"] == {
        "file": "sample.seq", "line": 41, "column": 8, "end_line": 41, "end_column": 14}
    assert document["module"]["comments"][1] == {"text": "# a relative import", "span": {
        "file": "sample.seq", "line": 3, "column": 25, "end_line": 3, "end_column": 44}}


def _tree_ids(steps: list[dict]) -> list[str]:
    out = []
    for step in steps:
        out.append(step["id"])
        for branch in step.get("branches", ()):
            out += _tree_ids(branch["body"]["steps"])
        if step.get("else"):
            out += _tree_ids(step["else"]["steps"])
    return out


def test_step_ids_are_labels_or_kind_and_position_and_name_graph_nodes() -> None:
    module = parse(SAMPLE, "sample.seq")
    document = to_json(module)
    for seq in module.sequences:
        decl = _sequence(document, seq.name)
        ids = _tree_ids(decl["steps"])
        assert ids == [node for node, _ in step_ids(seq)]
        assert [v["id"] for v in decl["graph"]["nodes"]] == ["<entry>", *ids, "<exit>"]
    everything = _tree_ids(_sequence(document, "everything")["steps"])
    assert everything[:3] == ["intro", "wait-2", "wait-3"]


def test_graph_has_one_edge_per_route_with_branch_and_weight() -> None:
    document = _sample()
    quiet = _sequence(document, "quiet")["graph"]["edges"]
    # both blocks of `if unsubscribed { } else { }` lead to the exit: two edges, one target
    assert quiet == [
        {"source": "<entry>", "target": "if-1", "kind": "next", "route": "next"},
        {"source": "if-1", "target": "<exit>", "kind": "then", "route": "then:0", "branch": 0},
        {"source": "if-1", "target": "<exit>", "kind": "else", "route": "else"},
    ]
    edges = _sequence(document, "everything")["graph"]["edges"]
    split = [e for e in edges if e["kind"] == "split"]
    assert split == [
        {"source": "split-16", "target": "wait-17", "kind": "split", "route": "split:0",
         "branch": 0, "weight": 70},
        {"source": "split-16", "target": "if-18", "kind": "split", "route": "split:1",
         "branch": 1, "weight": 30},
    ]
    # the two empty `else if` blocks: two routes to the step after the `if`
    assert [e for e in edges if e["source"] == "if-9" and e["target"] == "if-13"] == [
        {"source": "if-9", "target": "if-13", "kind": "then", "route": "then:2", "branch": 2},
        {"source": "if-9", "target": "if-13", "kind": "then", "route": "then:3", "branch": 3},
    ]
    assert {"source": "if-13", "target": "goto-15", "kind": "timeout", "route": "timeout"} in edges
    assert {"source": "goto-15", "target": "intro", "kind": "goto", "route": "goto"} in edges
    graph = lower(parse(SAMPLE, "sample.seq").sequences[0])
    routes = sum(len(graph.routes(v)) for v in graph.graph.nodes)
    assert len(edges) == routes


def test_dumps_is_stable_indented_json_with_a_trailing_newline() -> None:
    document = _sample()
    text = dumps(document)
    assert json.loads(text) == document
    assert text.endswith("}\n")
    assert text.splitlines()[1] == '  "format": "seqlang-ir",'
    assert '"regions": ["US", "US-CA"]' in text
    assert dumps(json.loads(text)) == text


# ---- what from_json accepts --------------------------------------------------------


def test_spans_may_be_left_out() -> None:
    bare = _strip_spans(_sample())
    module = from_json(bare)
    assert module == parse(SAMPLE, "sample.seq")
    assert {span for _, span in _spans(module)} == {n.NO_SPAN}
    assert to_json(module) == bare


def test_a_document_without_spans_decompiles_to_the_same_module() -> None:
    """A builder's document has no spans: comments then lead the file, and none is lost."""
    original = parse(SAMPLE, "sample.seq")
    back = parse(_decompile(_strip_spans(_sample())), "sample.seq")
    assert back == original
    assert [c.text for c in back.comments] == [c.text for c in original.comments]


def test_graph_and_ids_are_ignored_present_or_not() -> None:
    document = _sample()
    expected = from_json(document)
    for decl in document["module"]["decls"]:
        if decl["kind"] == "sequence":
            del decl["graph"]
    assert from_json(document) == expected
    seq = _sequence(document, "everything")
    seq["graph"] = {"nodes": [{"id": "nowhere", "kind": "task"}],
                    "edges": [{"source": "a", "target": "b", "kind": "goto", "route": "goto"}]}
    seq["steps"][0]["id"] = "renamed"
    assert from_json(document) == expected


def test_keys_with_null_or_false_defaults_may_be_left_out() -> None:
    document = {"format": "seqlang-ir", "version": 1, "module": {"path": "built.seq", "decls": [
        {"kind": "contact", "fields": [{"name": "seats", "type": "number"}]},
        {"kind": "sequence", "name": "s", "settings": [], "steps": [
            {"kind": "email", "template": "hello"},
            {"kind": "if", "branches": [
                {"cond": {"event": "replied"}, "body": {"steps": [{"kind": "exit"}]}}]},
        ]},
    ]}}
    assert from_json(document) == parse(
        "contact { seats: number }\nsequence s { email hello if replied { exit } }", "built.seq")


# ---- faults, named by JSON path ----------------------------------------------------

BASE = """\
contact { seats: number? }
template hello { subject "Hi" body "Hello" }
sequence s {
  timezone "Europe/Paris"
  hello: email hello
  wait 2 days
  if contact.seats > 10 { exit } else { task "call" }
}
"""
S = "$.module.decls[2]"


def _set(*keys_and_value: Any):
    *keys, value = keys_and_value

    def mutate(document: dict) -> None:
        target = document
        for key in keys[:-1]:
            target = target[key]
        if value is DELETE:
            del target[keys[-1]]
        else:
            target[keys[-1]] = value

    return mutate


DELETE = object()
M, SEQ = ("module",), ("module", "decls", 2)
STEPS = (*SEQ, "steps")
COND = (*STEPS, 2, "branches", 0, "cond")

FAULTS = [
    ("string for an integer", _set(*STEPS, 1, "duration", "amount", "2"),
     f'{S}.steps[1].duration.amount: expected an integer, got "2"'),
    ("number for a name", _set(*STEPS, 0, "label", 5),
     f"{S}.steps[0].label: expected a string or null, got 5"),
    ("bad name", _set(*STEPS, 0, "label", "two words"),
     f'{S}.steps[0].label: expected a name ([A-Za-z_][A-Za-z0-9_]*) or null, got "two words"'),
    ("missing field", _set(*STEPS, 1, "duration", DELETE),
     f"{S}.steps[1].duration: required key is missing"),
    ("missing module", _set("module", DELETE), "$.module: required key is missing"),
    ("missing kind", _set(*STEPS, 1, "kind", DELETE),
     f"{S}.steps[1].kind: required key is missing"),
    ("unknown key", _set(*STEPS, 1, "colour", "red"),
     f"{S}.steps[1].colour: unknown key; allowed here: id, kind, label, duration, span, "
     "label_span"),
    ("unknown key needing quotes", _set(*STEPS, 1, "bad key", 1),
     f'{S}.steps[1]["bad key"]: unknown key; allowed here: id, kind, label, duration, span, '
     "label_span"),
    ("unknown unit", _set(*STEPS, 1, "duration", "unit", "fortnight"),
     f'{S}.steps[1].duration.unit: unknown duration unit "fortnight"; expected one of "minute", '
     '"hour", "day", "week", "business_day", "business_hour"'),
    ("wrong format", _set("format", "other"), '$.format: expected "seqlang-ir", got "other"'),
    ("version as text", _set("version", "1"), '$.version: expected an integer, got "1"'),
    ("string in a span", _set(*STEPS, 1, "span", "line", "7"),
     f'{S}.steps[1].span.line: expected an integer, got "7"'),
    ("wrong type deep in a template", _set(*M, "decls", 1, "body", "items", 0, "value", "text", 5),
     "$.module.decls[1].body.items[0].value.text: expected a string, got 5"),
    ("neither object nor null", _set(*STEPS, 0, "body", 5),
     f"{S}.steps[0].body: expected an object or null, got 5"),
    ("fault inside a nullable object", _set(*STEPS, 0, "body", {"items": [
        {"kind": "field", "key": "subjet", "value": {"text": "x"}}]}),
     f'{S}.steps[0].body.items[0].key: unknown content key "subjet"; expected one of "subject", '
     '"body", "text", "html", "from"'),
    ("text and file at once", _set(*M, "decls", 1, "body", "items", 0, "value",
                                    {"text": "a", "file": "b"}),
     '$.module.decls[1].body.items[0].value: expected inline text {"text": "..."} or a file '
     '{"file": "path"}, got {"text": "a", "file": "b"}'),
    ("list for a comparison", _set(*COND, "value", [1]),
     f"{S}.steps[2].branches[0].cond.value: expected a string, a number or a boolean, got [1]"),
    ("in without a list", _set(*COND, "op", "in"),
     f"{S}.steps[2].branches[0].cond.value: expected an array, got 10"),
    ("unknown condition operator", _set(*COND, {"op": "xor", "operands": []}),
     f'{S}.steps[2].branches[0].cond.op: unknown condition operator "xor"; expected one of '
     '"and", "or", "not"'),
    ("one operand", _set(*COND, {"op": "or", "operands": [{"event": "bounced"}]}),
     f"{S}.steps[2].branches[0].cond.operands: expected at least 2 items, got 1"),
    ("no branches", _set(*STEPS, 2, "branches", []),
     f"{S}.steps[2].branches: expected at least 1 item, got 0"),
    ("empty document", lambda d: d.clear(), "$.format: required key is missing"),
]

SEMANTIC_FAULTS = [
    ("email with neither template nor body", _set(*STEPS, 0, "template", None),
     f'{S}.steps[0]: an email step needs a "template", a "body", or both'),
    ("impossible date", _set(*STEPS, 1, {"kind": "wait-until", "at": "2026-13-01T09:00"}),
     f'{S}.steps[1].at: "2026-13-01T09:00" is not a valid date-time'),
    ("opened without a step", _set(*COND, {"event": "opened"}),
     f'{S}.steps[2].branches[0].cond.step: "opened" needs the label of an email step'),
    ("bounced with a step", _set(*COND, {"event": "bounced", "step": "hello"}),
     f'{S}.steps[2].branches[0].cond.step: "bounced" takes no step'),
    ("url on opened", _set(*COND, {"event": "opened", "step": "hello", "url": "https://x"}),
     f'{S}.steps[2].branches[0].cond.url: only "clicked" takes a url, not "opened"'),
    ("within with else-if", lambda d: _if_within_with_two_branches(d),
     f"{S}.steps[2].branches: an `if ... within` step has exactly one branch, got 2"),
    ("from read from a file", _set(*M, "decls", 1, "body", "items", 0,
                                   {"kind": "field", "key": "from", "value": {"file": "a.txt"}}),
     '$.module.decls[1].body.items[0].value: a "from" address is written inline as '
     '{"text": ...}, not read from a file'),
    ("timezone of nothing", _set(*SEQ, "settings", 0, {"kind": "timezone"}),
     f'{S}.settings[0]: a timezone setting needs a "zone", a contact "field", or both'),
]


def _if_within_with_two_branches(document: dict) -> None:
    step = document["module"]["decls"][2]["steps"][2]
    step["within"] = {"amount": 1, "unit": "day"}
    step["branches"].append(copy.deepcopy(step["branches"][0]))


@pytest.mark.parametrize(("mutate", "message"), [f[1:] for f in FAULTS + SEMANTIC_FAULTS],
                         ids=[f[0] for f in FAULTS + SEMANTIC_FAULTS])
def test_a_fault_is_named_by_its_json_path(mutate, message: str) -> None:
    document = to_json(parse(BASE, "base.seq"))
    mutate(document)
    with pytest.raises(JsonIRError) as err:
        from_json(document)
    assert str(err.value) == message


def test_unknown_step_kind_lists_the_known_ones() -> None:
    document = to_json(parse(BASE, "base.seq"))
    document["module"]["decls"][2]["steps"][1]["kind"] = "sleep"
    with pytest.raises(JsonIRError) as err:
        from_json(document)
    assert err.value.path == f"{S}.steps[1].kind"
    assert err.value.reason == ('unknown step kind "sleep"; expected one of "email", "wait", '
                                '"wait-until", "if", "split", "goto", "exit", "task", "webhook"')


@pytest.mark.parametrize("version", [2, 0])
def test_another_version_is_refused_as_unsupported(version: int) -> None:
    document = to_json(parse(BASE, "base.seq"))
    document["version"] = version
    document["module"] = {"written": "by a later seqlang"}
    with pytest.raises(JsonIRError, match=r"^\$\.version: unsupported seqlang-ir version "
                       f"{version}; this seqlang reads version 1$"):
        from_json(document)


@pytest.mark.parametrize("document", [[], "seqlang-ir", None, 1])
def test_a_document_that_is_not_an_object(document: Any) -> None:
    with pytest.raises(JsonIRError, match=r"^\$: expected an object, got "):
        from_json(document)


def test_damaged_documents_raise_only_json_ir_errors() -> None:
    """Replace or delete values all over a document: never a KeyError or TypeError."""
    document = _strip_spans(to_json(parse(BASE, "base.seq")))
    places: list[tuple[Any, ...]] = []

    def collect(value: Any, where: tuple[Any, ...]) -> None:
        places.append(where)
        items = value.items() if isinstance(value, dict) else enumerate(value) \
            if isinstance(value, list) else ()
        for key, item in items:
            collect(item, (*where, key))

    collect(document["module"], ("module",))
    replacements = [DELETE, None, 0, -1, 1.5, "", "x", True, [], {}, [{}], {"kind": "if"}]
    rng = random.Random(7)
    for where in places:
        for value in rng.sample(replacements, 3):
            damaged = copy.deepcopy(document)
            _set(*where, value)(damaged)
            try:
                from_json(damaged)
            except JsonIRError as err:
                assert err.path.startswith("$")


# ---- the schema ----------------------------------------------------------------------


def test_schema_ships_in_the_package() -> None:
    resource = files("seqlang") / "schema" / "seqlang-ir-v1.schema.json"
    assert resource.is_file()
    Draft202012Validator.check_schema(json.loads(resource.read_text(encoding="utf-8")))
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    package_data = config["tool"]["setuptools"]["package-data"]["seqlang"]
    assert any(fnmatch("schema/seqlang-ir-v1.schema.json", glob) for glob in package_data)


def _node_types(node: Any) -> set[type]:
    if isinstance(node, tuple):
        return {t for item in node for t in _node_types(item)}
    if is_dataclass(node):
        return {type(node)} | {t for f in fields(node) for t in _node_types(getattr(node, f.name))}
    return set()


def test_sample_uses_every_node_kind() -> None:
    """So that a node kind added to the IR cannot miss its JSON form, schema and round trip."""
    every = {c for c in vars(n).values() if isinstance(c, type) and is_dataclass(c)}
    assert _node_types(parse(SAMPLE, "sample.seq")) == every


def test_schema_enumerations_match_the_ir() -> None:
    defs = schema()["$defs"]
    assert defs["weekday"]["enum"] == list(n.WEEKDAYS)
    assert defs["duration"]["properties"]["unit"]["enum"] == list(n.UNITS)
    assert defs["contact_field"]["properties"]["type"]["enum"] == list(n.FIELD_TYPES)
    assert defs["content_field"]["properties"]["key"]["enum"] == list(n.CONTENT_KEYS)
    assert defs["event_cond"]["properties"]["event"]["enum"] == list(n.EVENT_KINDS)
    assert defs["field_cond"]["properties"]["op"]["enum"] == [
        *n.COMPARE_OPS, "in", "contains", "exists"]
    module = parse(SAMPLE, "sample.seq")
    kinds = {step_kind(s) for seq in module.sequences for s in n.walk_steps(seq.steps)}
    assert set(defs["step"]["properties"]["kind"]["enum"]) == kinds


# ---- the commands ---------------------------------------------------------------------

CLEAN = """\
contact { first_name: string }

template hello {
  subject "Hello {{ contact.first_name }}"
  body "Hi {{ contact.first_name }}. Unsubscribe: {{ unsubscribe_url }}"
}

sequence welcome {
  timezone "Europe/Paris"
  hello: email hello   # the first touch
  wait 2 days
  if opened(hello) { task "Call them" } else { exit "no interest" }
}
"""


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_compile_writes_the_document_to_stdout(in_tmp: Path, capsys) -> None:
    (in_tmp / "welcome.seq").write_text(CLEAN, encoding="utf-8")
    assert main(["compile", "welcome.seq"]) == 0
    out = capsys.readouterr().out
    assert out == dumps(to_json(parse(CLEAN, "welcome.seq")))


def test_compile_writes_to_a_file_with_o(in_tmp: Path, capsys) -> None:
    (in_tmp / "welcome.seq").write_text(CLEAN, encoding="utf-8")
    assert main(["compile", "welcome.seq", "-o", "welcome.json"]) == 0
    assert capsys.readouterr().out == ""
    written = (in_tmp / "welcome.json").read_text(encoding="utf-8")
    assert written == dumps(to_json(parse(CLEAN, "welcome.seq")))


@pytest.mark.parametrize(("source", "code", "line"), [
    (CLEAN.replace("wait 2 days", "wait 2 dayz"), "SEQ001", "  wait 2 dayz"),
    (CLEAN.replace('task "Call them"', "goto nowhere"), "SEQ010", "goto nowhere"),
], ids=["syntax error", "undefined label"])
def test_compile_refuses_a_file_with_errors(in_tmp: Path, capsys, source: str, code: str,
                                            line: str) -> None:
    (in_tmp / "welcome.seq").write_text(source, encoding="utf-8")
    assert main(["compile", "welcome.seq", "-o", "welcome.json"]) == 1
    err = capsys.readouterr().err
    assert "welcome.seq:" in err and f" error {code} " in err
    assert line in err
    assert not (in_tmp / "welcome.json").exists()


def test_compile_of_an_unreadable_file_exits_2(in_tmp: Path, capsys) -> None:
    assert main(["compile", "missing.seq"]) == 2
    assert "cannot read missing.seq" in capsys.readouterr().err


def test_decompile_prints_canonical_text(in_tmp: Path, capsys) -> None:
    document = to_json(parse(CLEAN, "welcome.seq"))
    (in_tmp / "welcome.json").write_text(dumps(document), encoding="utf-8")
    assert main(["decompile", "welcome.json"]) == 0
    out = capsys.readouterr().out
    assert out == seqlang.format(CLEAN, "welcome.seq")
    assert "# the first touch" in out


def test_decompile_names_line_and_column_of_bad_json(in_tmp: Path, capsys) -> None:
    (in_tmp / "bad.json").write_text('{"format": "seqlang-ir",\n  "version": 1,,\n}\n',
                                     encoding="utf-8")
    assert main(["decompile", "bad.json"]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[0] == ("bad.json:2:16: error: not valid JSON: Expecting property name enclosed "
                      "in double quotes")
    assert err[1:] == ['   2 |   "version": 1,,', "     |                ^"]


def test_decompile_names_the_json_path_of_a_fault(in_tmp: Path, capsys) -> None:
    document = to_json(parse(CLEAN, "welcome.seq"))
    document["module"]["decls"][2]["steps"][1]["duration"]["amount"] = "2"
    (in_tmp / "welcome.json").write_text(dumps(document), encoding="utf-8")
    assert main(["decompile", "welcome.json"]) == 1
    assert capsys.readouterr().err == ("welcome.json: error: $.module.decls[2].steps[1]."
                                       'duration.amount: expected an integer, got "2"\n')


def test_decompile_of_an_unreadable_file_exits_2(in_tmp: Path, capsys) -> None:
    assert main(["decompile", "missing.json"]) == 2
    assert "cannot read missing.json" in capsys.readouterr().err
