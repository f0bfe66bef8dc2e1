"""The `seqlang` command line.

Each command lives in its own module and is imported only when it runs, so
`seqlang check` and `seqlang fmt` never pay for the engine's imports
(SQLAlchemy, APScheduler, the Google client).
"""

from __future__ import annotations

import argparse
import importlib
import sys

# name -> (module, one-line summary); the module offers add_arguments(parser, name) and run(args)
COMMANDS: dict[str, tuple[str, str]] = {
    "check": ("seqlang.commands.check", "check .seq files and report findings"),
    "fmt": ("seqlang.commands.fmt", "format .seq files in the canonical layout"),
    "compile": ("seqlang.commands.compile", "write the JSON IR of a .seq file"),
    "decompile": ("seqlang.commands.decompile", "print canonical .seq text for a JSON IR file"),
    "rule": ("seqlang.commands.rule", "explain a rule code, or list every rule"),
    "graph": ("seqlang.commands.graph", "draw a sequence's step graph (Mermaid, DOT or SVG)"),
    "deploy": ("runtime.cli", "check a .seq file and store it as a new sequence version"),
    "enroll": ("runtime.cli", "enroll a contact, or a CSV file of contacts, in a sequence"),
    "process": ("runtime.cli", "run one tick: send what is due, advance waiting enrollments"),
    "event": ("runtime.cli", "record an open, click, reply, bounce or unsubscribe"),
    "simulate": ("runtime.cli", "run one contact through a sequence on a virtual clock"),
    "status": ("runtime.cli", "where enrollments stand, and why they wait"),
    "pause": ("runtime.cli", "pause an enrollment"),
    "resume": ("runtime.cli", "resume a paused enrollment"),
    "skip-step": ("runtime.cli", "move an enrollment past the step it waits at"),
    "unenroll": ("runtime.cli", "end an enrollment"),
    "worker": ("runtime.worker", "run the engine: send due emails every second until stopped"),
    "run": ("runtime.run", "deploy a .seq file, enroll a CSV and run the worker, in one go"),
    "serve": ("runtime.serve", "serve tracking links, unsubscribe and the HTTP API"),
}


def _top_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="seqlang",
        description="Email sequences as checked, formatted, diffable, simulated code.",
        epilog="commands:\n" + "\n".join(f"  {k:<12} {v[1]}" for k, v in COMMANDS.items()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("command", nargs="?", help="one of the commands below")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in COMMANDS:
        top = _top_parser()
        if not argv or argv[0] in ("-h", "--help"):
            top.print_help()
            return 0 if argv else 2
        top.print_usage(sys.stderr)
        print(f"seqlang: error: unknown command {argv[0]!r}", file=sys.stderr)
        return 2
    name = argv[0]
    module = importlib.import_module(COMMANDS[name][0])
    parser = argparse.ArgumentParser(prog=f"seqlang {name}", description=COMMANDS[name][1])
    module.add_arguments(parser, name)
    try:
        args = parser.parse_args(argv[1:])
    except SystemExit as exc:
        return int(exc.code or 0)
    args.command = name
    return int(module.run(args))


if __name__ == "__main__":
    sys.exit(main())
