"""The JSON IR: a module as a versioned JSON document (`seqlang-ir`, version 1).

The visual builder and other tools read and write sequences as JSON, while the
`.seq` text stays what people review and diff. So the document must carry
everything the text means (every declaration, the step tree, the conditions)
and everything the formatter needs to give the text back (comments and spans),
and reading it must fail with the JSON path of the fault, because the person
who fixes a builder's output has only the document in front of them.

Shape decisions a reader of a document relies on:
- every node is an object; declarations, schedule entries, email items,
  settings and steps are tagged by `kind`, conditions by `event`, `field` or `op`;
- a name that refers to something (a label, a template, a schedule, a contact
  field) is a plain string, and its source range sits beside it in `NAME_span`;
- spans are optional: a builder may leave them out and `from_json` then uses
  `NO_SPAN`; `to_json` leaves out spans that are `NO_SPAN`;
- keys whose value may be null (or, for `optional`, false) may be left out;
- each step's `id` and each sequence's `graph` are derived from the steps by
  `seqlang.graph` (the project's one lowering) for tools that draw the flow;
  `from_json` ignores both, so an edited document cannot disagree with itself.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from datetime import datetime
from functools import lru_cache
from importlib.resources import files
from typing import Any

from jsonschema import Draft202012Validator, ValidationError

from . import nodes as n
from .graph import StepGraph, lower, route_kind, step_kind

FORMAT = "seqlang-ir"
VERSION = 1
SCHEMA_FILE = "seqlang-ir-v1.schema.json"

Json = dict[str, Any]


class JsonIRError(ValueError):
    """A document that is not a valid `seqlang-ir` document; `path` is a JSON path (`$.module`)."""

    def __init__(self, path: str, reason: str):
        self.path = path
        self.reason = reason
        super().__init__(f"{path}: {reason}")


def schema() -> Json:
    """The JSON Schema (draft 2020-12) of a version 1 document, as shipped in the package."""
    text = (files("seqlang") / "schema" / SCHEMA_FILE).read_text(encoding="utf-8")
    return json.loads(text)


@lru_cache(maxsize=1)
def _validator() -> Draft202012Validator:
    return Draft202012Validator(schema())


def dumps(document: Json) -> str:
    """JSON text with 2-space indentation and keys in document order.

    Objects and arrays that hold only scalars (spans, edges, values) stay on one
    line, so a document reads top to bottom and a change diffs as one line.
    """
    return _dump(document, "") + "\n"


def _dump(value: Any, indent: str) -> str:
    if isinstance(value, dict | list) and not _flat(value):
        inner = indent + "  "
        if isinstance(value, dict):
            lines = [f"{inner}{json.dumps(k, ensure_ascii=False)}: {_dump(v, inner)}"
                     for k, v in value.items()]
            return "{\n" + ",\n".join(lines) + f"\n{indent}}}"
        lines = [inner + _dump(v, inner) for v in value]
        return "[\n" + ",\n".join(lines) + f"\n{indent}]"
    return json.dumps(value, ensure_ascii=False)


def _flat(value: dict | list) -> bool:
    items = value.values() if isinstance(value, dict) else value
    return not any(isinstance(v, dict | list) for v in items)


# ---- IR to JSON ---------------------------------------------------------------------


def to_json(module: n.Module) -> Json:
    """The document of a module; `from_json` turns it back into an equal module with equal spans."""
    body: Json = {
        "path": module.path,
        "decls": [_DECL_WRITERS[type(d)](d) for d in module.decls],
        "comments": [_spanned({"text": c.text}, c) for c in module.comments],
    }
    return {"format": FORMAT, "version": VERSION, "module": _spanned(body, module)}


def _span_json(span: n.Span) -> Json:
    return {"file": span.file, "line": span.line, "column": span.column,
            "end_line": span.end_line, "end_column": span.end_column}


def _spanned(out: Json, node: Any, **refs: n.Ref | None) -> Json:
    """Add the node's span and, as `KEY_span`, the spans of the names it refers to."""
    if node.span != n.NO_SPAN:
        out["span"] = _span_json(node.span)
    for key, ref in refs.items():
        if ref is not None and ref.span != n.NO_SPAN:
            out[f"{key}_span"] = _span_json(ref.span)
    return out


def _name(ref: n.Ref | None) -> str | None:
    return None if ref is None else ref.name


def _write_schedule(decl: n.Schedule) -> Json:
    entries = [_ENTRY_WRITERS[type(e)](e) for e in decl.entries]
    return _spanned({"kind": "schedule", "name": decl.name, "entries": entries}, decl)


def _write_days(entry: n.Days) -> Json:
    ranges = [_spanned({"first": r.first, "last": r.last}, r) for r in entry.ranges]
    return _spanned({"kind": "days", "ranges": ranges}, entry)


def _write_hours(entry: n.Hours) -> Json:
    ranges = [_spanned({"start": r.start, "end": r.end}, r) for r in entry.ranges]
    return _spanned({"kind": "hours", "ranges": ranges}, entry)


_ENTRY_WRITERS: dict[type, Callable[[Any], Json]] = {
    n.Days: _write_days,
    n.Hours: _write_hours,
    n.Holidays: lambda e: _spanned({"kind": "holidays", "regions": list(e.regions)}, e),
}


def _write_contact(decl: n.Contact) -> Json:
    fields = [_spanned({"name": f.name, "type": f.type, "optional": f.optional}, f)
              for f in decl.fields]
    return _spanned({"kind": "contact", "fields": fields}, decl)


def _write_body(body: n.EmailBody) -> Json:
    items = [_write_variant(i) if isinstance(i, n.Variant) else _write_field(i) for i in body.items]
    return _spanned({"items": items}, body)


def _write_field(item: n.ContentField) -> Json:
    value = item.value
    text = _spanned({"file" if value.file else "text": value.text}, value)
    return _spanned({"kind": "field", "key": item.key, "value": text}, item)


def _write_variant(item: n.Variant) -> Json:
    fields = [_write_field(f) for f in item.fields]
    out = {"kind": "variant", "name": item.name, "weight": item.weight, "fields": fields}
    return _spanned(out, item)


def _write_template(decl: n.Template) -> Json:
    return _spanned({"kind": "template", "name": decl.name, "body": _write_body(decl.body)}, decl)


def _write_sequence(decl: n.Sequence) -> Json:
    graph = lower(decl)
    out = {
        "kind": "sequence",
        "name": decl.name,
        "settings": [_write_setting(s) for s in decl.settings],
        "steps": [_write_step(s, graph) for s in decl.steps],
        "graph": _write_graph(graph),
    }
    return _spanned(out, decl)


def _write_setting(setting: n.Setting) -> Json:
    if isinstance(setting, n.DisplayName):
        return _spanned({"kind": "name", "text": setting.text}, setting)
    if isinstance(setting, n.Sender):
        return _spanned({"kind": "from", "address": setting.address}, setting)
    if isinstance(setting, n.Timezone):
        out = {"kind": "timezone", "field": _name(setting.field), "zone": setting.zone}
        return _spanned(out, setting, field=setting.field)
    if isinstance(setting, n.SendOn):
        out = {"kind": "send-on", "schedule": setting.schedule.name}
        return _spanned(out, setting, schedule=setting.schedule)
    if isinstance(setting, n.Track):
        out = {"kind": "track", "opens": setting.opens, "clicks": setting.clicks}
        return _spanned(out, setting)
    return _spanned({"kind": "exit-when", "cond": _write_cond(setting.cond)}, setting)


def _write_step(step: n.Step, graph: StepGraph) -> Json:
    out: Json = {"id": graph.node_of(step), "kind": step_kind(step), "label": _name(step.label)}
    refs: dict[str, n.Ref | None] = {"label": step.label}
    if isinstance(step, n.EmailStep):
        out["template"] = _name(step.template)
        out["reply_to"] = _name(step.reply_to)
        out["body"] = None if step.body is None else _write_body(step.body)
        refs.update(template=step.template, reply_to=step.reply_to)
    elif isinstance(step, n.Wait):
        out["duration"] = _write_duration(step.duration)
    elif isinstance(step, n.WaitUntil):
        out["at"] = step.at
    elif isinstance(step, n.If):
        out["branches"] = [
            _spanned({"cond": _write_cond(b.cond), "body": _write_block(b.body, graph)}, b)
            for b in step.branches
        ]
        out["within"] = None if step.within is None else _write_duration(step.within)
        out["else"] = None if step.else_body is None else _write_block(step.else_body, graph)
    elif isinstance(step, n.Split):
        out["branches"] = [
            _spanned({"weight": b.weight, "body": _write_block(b.body, graph)}, b)
            for b in step.branches
        ]
    elif isinstance(step, n.Goto):
        out["target"] = step.target.name
        refs["target"] = step.target
    elif isinstance(step, n.Exit):
        out["reason"] = step.reason
    elif isinstance(step, n.Task):
        out["text"] = step.text
    else:
        out["url"] = step.url
    return _spanned(out, step, **refs)


def _write_block(block: n.Block, graph: StepGraph) -> Json:
    return _spanned({"steps": [_write_step(s, graph) for s in block.steps]}, block)


def _write_duration(duration: n.Duration) -> Json:
    return _spanned({"amount": duration.amount, "unit": duration.unit}, duration)


def _write_cond(cond: n.Cond) -> Json:
    if isinstance(cond, n.EventCond):
        out = {"event": cond.kind, "step": _name(cond.step), "url": cond.url}
        return _spanned(out, cond, step=cond.step)
    if isinstance(cond, n.FieldCond):
        value = list(cond.value) if isinstance(cond.value, tuple) else cond.value
        out = {"field": cond.field.name, "op": cond.op, "value": value}
        return _spanned(out, cond, field=cond.field)
    if isinstance(cond, n.Not):
        return _spanned({"op": "not", "operand": _write_cond(cond.operand)}, cond)
    op = "and" if isinstance(cond, n.And) else "or"
    return _spanned({"op": op, "operands": [_write_cond(c) for c in cond.operands]}, cond)


def _write_graph(graph: StepGraph) -> Json:
    """One edge per route, in node order, so a builder can draw and label every way out."""
    g = graph.graph
    nodes = [{"id": node, "kind": g.nodes[node]["kind"]} for node in g.nodes]
    edges = []
    for node in g.nodes:
        for route, target in graph.routes(node).items():
            edge: Json = {"source": node, "target": target, "kind": route_kind(route),
                          "route": route}
            _, _, index = route.partition(":")
            if index:
                edge["branch"] = int(index)
            if edge["kind"] == "split":
                edge["weight"] = graph.step(node).branches[int(index)].weight
            edges.append(edge)
    return {"nodes": nodes, "edges": edges}


_DECL_WRITERS: dict[type, Callable[[Any], Json]] = {
    n.Import: lambda d: _spanned({"kind": "import", "path": d.path}, d),
    n.Schedule: _write_schedule,
    n.Contact: _write_contact,
    n.Template: _write_template,
    n.Sequence: _write_sequence,
}


# ---- JSON to IR ---------------------------------------------------------------------


def from_json(document: Any) -> n.Module:
    """The module of a document, after checking it against the schema and then its meaning.

    Raises JsonIRError naming the JSON path of the first fault. `graph` and step
    `id`s are derived data and are ignored, present or not.
    """
    if isinstance(document, dict):
        version = document.get("version")
        if isinstance(version, int) and not isinstance(version, bool) and version != VERSION:
            raise JsonIRError("$.version", f"unsupported {FORMAT} version {version}; this seqlang "
                              f"reads version {VERSION}")
    error = next(_validator().iter_errors(document), None)
    if error is not None:
        raise _schema_error(error)
    return _read_module(document["module"], "$.module")


def _span(obj: Json, key: str = "span") -> n.Span:
    s = obj.get(key)
    if s is None:
        return n.NO_SPAN
    return n.Span(s["file"], int(s["line"]), int(s["column"]), int(s["end_line"]),
                  int(s["end_column"]))


def _ref(obj: Json, key: str) -> n.Ref | None:
    name = obj.get(key)
    return None if name is None else n.Ref(name, _span(obj, f"{key}_span"))


def _each(obj: Json, key: str, path: str, read: Callable[[Json, str], Any]) -> tuple:
    return tuple(read(item, f"{path}.{key}[{i}]") for i, item in enumerate(obj[key]))


def _read_module(obj: Json, path: str) -> n.Module:
    comments = tuple(n.Comment(c["text"], _span(c)) for c in obj.get("comments", ()))
    decls = _each(obj, "decls", path, lambda d, p: _DECL_READERS[d["kind"]](d, p))
    return n.Module(obj["path"], decls, comments, _span(obj))


def _read_schedule(obj: Json, path: str) -> n.Schedule:
    return n.Schedule(obj["name"], _each(obj, "entries", path, _read_entry), _span(obj))


def _read_entry(obj: Json, path: str) -> n.ScheduleEntry:
    kind = obj["kind"]
    if kind == "days":
        ranges = tuple(n.DayRange(r["first"], r.get("last"), _span(r)) for r in obj["ranges"])
        return n.Days(ranges, _span(obj))
    if kind == "hours":
        return n.Hours(tuple(n.TimeRange(r["start"], r["end"], _span(r)) for r in obj["ranges"]),
                       _span(obj))
    return n.Holidays(tuple(obj["regions"]), _span(obj))


def _read_contact(obj: Json, path: str) -> n.Contact:
    fields = tuple(n.ContactField(f["name"], f["type"], f.get("optional", False), _span(f))
                   for f in obj["fields"])
    return n.Contact(fields, _span(obj))


def _read_body(obj: Json, path: str) -> n.EmailBody:
    return n.EmailBody(_each(obj, "items", path, _read_item), _span(obj))


def _read_item(obj: Json, path: str) -> n.ContentField | n.Variant:
    if obj["kind"] == "variant":
        fields = _each(obj, "fields", path, _read_field)
        return n.Variant(obj["name"], int(obj["weight"]), fields, _span(obj))
    return _read_field(obj, path)


def _read_field(obj: Json, path: str) -> n.ContentField:
    raw = obj["value"]
    is_file = "file" in raw
    if is_file and obj["key"] == "from":
        raise JsonIRError(f"{path}.value", 'a "from" address is written inline as {"text": ...}, '
                          "not read from a file")
    value = n.TextValue(raw["file"] if is_file else raw["text"], is_file, _span(raw))
    return n.ContentField(obj["key"], value, _span(obj))


def _read_template(obj: Json, path: str) -> n.Template:
    return n.Template(obj["name"], _read_body(obj["body"], f"{path}.body"), _span(obj))


def _read_sequence(obj: Json, path: str) -> n.Sequence:
    settings = _each(obj, "settings", path, _read_setting)
    return n.Sequence(obj["name"], settings, _each(obj, "steps", path, _read_step), _span(obj))


def _read_setting(obj: Json, path: str) -> n.Setting:
    kind, span = obj["kind"], _span(obj)
    if kind == "name":
        return n.DisplayName(obj["text"], span)
    if kind == "from":
        return n.Sender(obj["address"], span)
    if kind == "timezone":
        if obj.get("field") is None and obj.get("zone") is None:
            raise JsonIRError(path, 'a timezone setting needs a "zone", a contact "field", or both')
        return n.Timezone(_ref(obj, "field"), obj.get("zone"), span)
    if kind == "send-on":
        return n.SendOn(_required_ref(obj, "schedule"), span)
    if kind == "track":
        return n.Track(obj["opens"], obj["clicks"], span)
    return n.ExitWhen(_read_cond(obj["cond"], f"{path}.cond"), span)


def _required_ref(obj: Json, key: str) -> n.Ref:
    return n.Ref(obj[key], _span(obj, f"{key}_span"))


def _read_step(obj: Json, path: str) -> n.Step:
    kind, label, span = obj["kind"], _ref(obj, "label"), _span(obj)
    if kind == "email":
        template, body = _ref(obj, "template"), obj.get("body")
        if template is None and body is None:
            raise JsonIRError(path, 'an email step needs a "template", a "body", or both')
        email = None if body is None else _read_body(body, f"{path}.body")
        return n.EmailStep(label, template, _ref(obj, "reply_to"), email, span)
    if kind == "wait":
        return n.Wait(label, _read_duration(obj["duration"]), span)
    if kind == "wait-until":
        _check_datetime(obj["at"], f"{path}.at")
        return n.WaitUntil(label, obj["at"], span)
    if kind == "if":
        return _read_if(obj, path, label, span)
    if kind == "split":
        branches = _each(obj, "branches", path, lambda b, p: n.SplitBranch(
            int(b["weight"]), _read_block(b["body"], f"{p}.body"), _span(b)))
        return n.Split(label, branches, span)
    if kind == "goto":
        return n.Goto(label, _required_ref(obj, "target"), span)
    if kind == "exit":
        return n.Exit(label, obj.get("reason"), span)
    if kind == "task":
        return n.Task(label, obj["text"], span)
    return n.Webhook(label, obj["url"], span)


def _read_if(obj: Json, path: str, label: n.Ref | None, span: n.Span) -> n.If:
    within = obj.get("within")
    if within is not None and len(obj["branches"]) != 1:
        raise JsonIRError(f"{path}.branches", "an `if ... within` step has exactly one branch, "
                          f"got {len(obj['branches'])}")
    branches = _each(obj, "branches", path, lambda b, p: n.Branch(
        _read_cond(b["cond"], f"{p}.cond"), _read_block(b["body"], f"{p}.body"), _span(b)))
    else_body = obj.get("else")
    return n.If(label, branches,
                None if else_body is None else _read_block(else_body, f"{path}.else"),
                None if within is None else _read_duration(within), span)


def _check_datetime(text: str, path: str) -> None:
    try:
        datetime.fromisoformat(text)
    except ValueError:
        raise JsonIRError(path, f"{_show(text)} is not a valid date-time") from None


def _read_block(obj: Json, path: str) -> n.Block:
    return n.Block(_each(obj, "steps", path, _read_step), _span(obj))


def _read_duration(obj: Json) -> n.Duration:
    return n.Duration(int(obj["amount"]), obj["unit"], _span(obj))


# which events name an email step: "required", "optional" or "never"; only `clicked` takes a url
_EVENT_STEP = {"opened": "required", "clicked": "required", "replied": "optional",
               "bounced": "never", "unsubscribed": "never"}


def _read_cond(obj: Json, path: str) -> n.Cond:
    span = _span(obj)
    if "event" in obj:
        event, step, url = obj["event"], _ref(obj, "step"), obj.get("url")
        takes = _EVENT_STEP[event]
        if step is None and takes == "required":
            raise JsonIRError(f"{path}.step", f'"{event}" needs the label of an email step')
        if step is not None and takes == "never":
            raise JsonIRError(f"{path}.step", f'"{event}" takes no step')
        if url is not None and event != "clicked":
            raise JsonIRError(f"{path}.url", f'only "clicked" takes a url, not "{event}"')
        return n.EventCond(event, step, url, span)
    if "field" in obj:
        value = obj.get("value")
        return n.FieldCond(_required_ref(obj, "field"), obj["op"],
                           tuple(value) if isinstance(value, list) else value, span)
    if obj["op"] == "not":
        return n.Not(_read_cond(obj["operand"], f"{path}.operand"), span)
    operands = _each(obj, "operands", path, _read_cond)
    return n.And(operands, span) if obj["op"] == "and" else n.Or(operands, span)


_DECL_READERS: dict[str, Callable[[Json, str], n.Decl]] = {
    "import": lambda d, p: n.Import(d["path"], _span(d)),
    "schedule": _read_schedule,
    "contact": _read_contact,
    "template": _read_template,
    "sequence": _read_sequence,
}


# ---- schema faults in a person's words ----------------------------------------------

_TYPE_WORDS = {"object": "an object", "array": "an array", "string": "a string",
               "integer": "an integer", "number": "a number", "boolean": "a boolean",
               "null": "null"}
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def _json_path(parts: Iterable[str | int]) -> str:
    out = "$"
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _IDENTIFIER.match(part):
            out += f".{part}"
        else:
            out += f"[{json.dumps(part)}]"
    return out


def _show(value: Any) -> str:
    if isinstance(value, dict) and len(json.dumps(value)) > 60:
        return "an object"
    if isinstance(value, list) and len(json.dumps(value)) > 60:
        return "an array"
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + '..."'


def _or(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def _types(value: str | list[str]) -> str:
    return _or([_TYPE_WORDS[t] for t in ([value] if isinstance(value, str) else value)])


def _schema_error(error: ValidationError) -> JsonIRError:
    """The fault the schema found, at its JSON path, said the way a person would say it."""
    parts = list(error.absolute_path)
    path = _json_path(parts)
    rule, expected, got = error.validator, error.validator_value, error.instance
    title = error.schema.get("title") if isinstance(error.schema, dict) else None
    if rule in ("anyOf", "oneOf"):
        return _alternatives_error(error, path, title)
    if rule == "type":
        return JsonIRError(path, f"expected {_types(expected)}, got {_show(got)}")
    if rule == "required":
        missing = next(k for k in expected if k not in got)
        return JsonIRError(_json_path([*parts, missing]), "required key is missing")
    if rule == "additionalProperties":
        allowed = list(error.schema.get("properties", {}))
        extra = next(k for k in got if k not in allowed)
        return JsonIRError(_json_path([*parts, extra]),
                           "unknown key; allowed here: " + ", ".join(allowed))
    if rule == "enum":
        options = ", ".join(_show(v) for v in expected)
        return JsonIRError(path, f"unknown {title or 'value'} {_show(got)}; expected one of "
                           f"{options}")
    if rule == "const":
        return JsonIRError(path, f"expected {_show(expected)}, got {_show(got)}")
    if rule == "pattern":
        return JsonIRError(path, f"expected {title or 'text matching ' + expected}, "
                           f"got {_show(got)}")
    if rule == "minItems":
        return JsonIRError(path, f"expected at least {expected} item{'s' * (expected != 1)}, "
                           f"got {len(got)}")
    if rule == "minimum":
        return JsonIRError(path, f"expected at least {expected}, got {_show(got)}")
    return JsonIRError(path, error.message)


def _alternatives_error(error: ValidationError, path: str, title: str | None) -> JsonIRError:
    """Report the fault inside the one alternative whose type fits, if only one does.

    A nullable object (`anyOf: [object, null]`) given an object should report
    what is wrong inside the object, not that it is not null.
    """
    depth = len(error.absolute_path)
    mismatched: list[ValidationError] = []
    fitting: list[ValidationError] = []
    for e in error.context:
        same_level_type = e.validator == "type" and len(e.absolute_path) == depth
        (mismatched if same_level_type else fitting).append(e)
    branches = {e.relative_schema_path[0] for e in fitting}
    if len(branches) == 1:
        return _schema_error(fitting[0])
    if not fitting and mismatched:
        words = _or(list(dict.fromkeys(_types(e.validator_value) for e in mismatched)))
        return JsonIRError(path, f"expected {words}, got {_show(error.instance)}")
    return JsonIRError(path, f"expected {title or 'one of the allowed forms'}, "
                       f"got {_show(error.instance)}")

