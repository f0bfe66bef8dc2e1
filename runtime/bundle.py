"""A deployable bundle: every text a sequence needs, keyed by path, hashed.

Deploy freezes the root .seq file, the modules it imports and the template files they use, so
an enrollment keeps running exactly what was deployed when files change, and a worker on
another machine needs no files. Keys are paths relative to the root file's folder (POSIX
separators); stdlib modules keep their `std/NAME` import name. Reading a bundle back parses
the stored sources under those keys, so every span and every relative `file "..."` path
resolves inside the bundle, never on disk.
"""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
from dataclasses import dataclass
from pathlib import Path

from seqlang.loader import STD_PREFIX, Program
from seqlang.parser import parse
from seqlang.templates import declared_parts, template_path


@dataclass(frozen=True)
class Bundle:
    root: str
    sources: dict[str, str]
    files: dict[str, str]

    @property
    def content_hash(self) -> str:
        """SHA-256 of the canonical JSON of the bundle: equal content, equal hash."""
        canonical = json.dumps(
            {"root": self.root, "sources": self.sources, "files": self.files},
            sort_keys=True,
            ensure_ascii=False,
            separators=(",", ":"),
        )
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class BundleError(Exception):
    """A file a deployed program needs could not be read."""


def file_key(module_key: str, relative: str) -> str:
    """The bundle key of a `file "relative"` written in the module stored as `module_key`."""
    return posixpath.normpath(posixpath.join(posixpath.dirname(module_key), relative))


def bundle_program(program: Program) -> Bundle:
    """Freeze a loaded program: its module sources and the template files they name."""
    root_dir = Path(program.root.path).resolve().parent

    def key_of(module_path: str) -> str:
        if module_path.startswith(STD_PREFIX):
            return module_path
        return Path(os.path.relpath(Path(module_path).resolve(), root_dir)).as_posix()

    sources = {key_of(path): program.sources[path] for path in program.modules}
    files: dict[str, str] = {}
    for path, module in program.modules.items():
        for part in declared_parts(module):
            if not part.is_file:
                continue
            key = file_key(key_of(path), part.value.text)
            try:
                files[key] = template_path(part).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise BundleError(f"{path}: template file {part.value.text!r}: {exc}") from exc
    return Bundle(key_of(program.root.path), sources, files)


def unbundle(bundle: Bundle) -> Program:
    """The program a bundle holds, with imports resolved between its own keys."""
    modules = {key: parse(text, key) for key, text in bundle.sources.items()}
    program = Program(modules[bundle.root], modules, sources=dict(bundle.sources))
    for key, module in modules.items():
        edges = program.edges.setdefault(key, [])
        for imp in module.imports:
            target = imp.path if imp.path.startswith(STD_PREFIX) else file_key(key, imp.path)
            edges.append((imp, target if target in modules else None))
    return program

