"""Files to a program: a root module and every module it imports.

Import problems are findings (SEQ012), never crashes: a user checking a file
whose import is missing still wants every other finding in that file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path

from . import nodes as n
from .diagnostics import ERROR, Diagnostic, SeqSyntaxError
from .parser import parse

IMPORT = "SEQ012"
STD_PREFIX = "std/"


def stdlib_path(name: str) -> Path:
    return Path(str(files("seqlang.stdlib") / f"{name}.seq"))


def resolve_import(importer: str, spec: str) -> Path:
    """`std/NAME` names a stdlib module; anything else is a path relative to the importer."""
    if spec.startswith(STD_PREFIX):
        return stdlib_path(spec.removeprefix(STD_PREFIX))
    return (Path(importer).parent / spec).resolve()


@dataclass
class Program:
    root: n.Module
    modules: dict[str, n.Module] = field(default_factory=dict)
    # importer path -> list of (Import node, resolved module path or None)
    edges: dict[str, list[tuple[n.Import, str | None]]] = field(default_factory=dict)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict)

    def imported(self, module: n.Module) -> list[n.Module]:
        """Modules a module imports directly and that could be loaded."""
        return [self.modules[p] for _, p in self.edges.get(module.path, []) if p in self.modules]

    def scope(self, module: n.Module) -> Scope:
        """Names visible in a module: its own declarations, then its direct imports'."""
        scope = Scope()
        for mod in [module, *self.imported(module)]:
            for decl in mod.decls:
                if isinstance(decl, n.Schedule):
                    scope.schedules.setdefault(decl.name, decl)
                elif isinstance(decl, n.Template):
                    scope.templates.setdefault(decl.name, decl)
                elif isinstance(decl, n.Contact):
                    for f in decl.fields:
                        scope.fields.setdefault(f.name, f)
        return scope


@dataclass
class Scope:
    schedules: dict[str, n.Schedule] = field(default_factory=dict)
    templates: dict[str, n.Template] = field(default_factory=dict)
    fields: dict[str, n.ContactField] = field(default_factory=dict)


def load_text(text: str, path: str) -> Program:
    """Parse `text` as the module at `path` and load what it imports.

    Raises SeqSyntaxError for the root's own syntax errors; an imported module's
    syntax errors are reported as diagnostics of the program.
    """
    root = parse(text, path)
    program = Program(root, {path: root}, sources={path: text})
    _load_imports(program, root, stack=[path])
    return program


def load(path: str | Path) -> Program:
    """Read and load a .seq file; OSError and UnicodeDecodeError propagate to the caller."""
    text = Path(path).read_text(encoding="utf-8")
    return load_text(text, display_path(path))


def _load_imports(program: Program, module: n.Module, stack: list[str]) -> None:
    edges = program.edges.setdefault(module.path, [])
    for imp in module.imports:
        target = resolve_import(module.path, imp.path)
        key = _key(target, imp.path)
        if key in stack:
            cycle = " -> ".join([*stack[stack.index(key) :], key])
            program.diagnostics.append(
                Diagnostic(
                    IMPORT,
                    ERROR,
                    f"import cycle: {cycle}",
                    imp.span,
                    "move the shared declarations into a module both can import",
                )
            )
            edges.append((imp, None))
            continue
        if key in program.modules:
            edges.append((imp, key))
            continue
        try:
            text = target.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = "not found" if isinstance(exc, FileNotFoundError) else str(exc)
            hint = (
                "standard modules are " + ", ".join(f"`std/{p.stem}`" for p in _std_modules())
                if imp.path.startswith(STD_PREFIX)
                else "paths are relative to this file"
            )
            program.diagnostics.append(
                Diagnostic(IMPORT, ERROR, f'import "{imp.path}": {reason}', imp.span, hint)
            )
            edges.append((imp, None))
            continue
        try:
            sub = parse(text, key)
        except SeqSyntaxError as err:
            program.diagnostics.extend(err.diagnostics)
            program.sources[key] = text
            edges.append((imp, None))
            continue
        program.modules[key] = sub
        program.sources[key] = text
        edges.append((imp, key))
        _load_imports(program, sub, [*stack, key])


def _key(target: Path, spec: str) -> str:
    """Stdlib modules are named by their import spec, so messages don't show site-packages."""
    return spec if spec.startswith(STD_PREFIX) else display_path(target)


def display_path(path: str | Path) -> str:
    """One name per file: relative to the working directory when below it, else absolute."""
    resolved = Path(path).resolve()
    rel = os.path.relpath(resolved)
    return str(resolved) if rel.startswith("..") else rel


def _std_modules() -> list[Path]:
    return sorted(Path(str(files("seqlang.stdlib"))).glob("*.seq"))
