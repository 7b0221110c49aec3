"""``ims help``: the command reference, generated from the parser itself.

``ims help --markdown > docs/cli.md`` writes the reference the docs link to; a test regenerates
it and fails when the file and the program disagree, so the reference cannot drift.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from dataclasses import dataclass

from ims_tui.cli.context import CliContext

HEADER = """# `ims` command reference

Generated from the program's own parser by `ims help --markdown > docs/cli.md`; a test fails
when this file and the program disagree. Global options (`--db`, `--user`, `--station`,
`--json`, `--debug`) go before the command; exit codes and the error contract are in the
[README](../README.md#the-command-line).
"""


@dataclass(frozen=True)
class Command:
    """One runnable command: its words after ``ims`` and its parser."""

    path: tuple[str, ...]
    parser: argparse.ArgumentParser
    summary: str


def register(subparsers: argparse._SubParsersAction) -> None:
    help_parser = subparsers.add_parser("help", help="list every command; --markdown writes the reference")
    help_parser.add_argument("--markdown", action="store_true", help="the reference as Markdown (docs/cli.md)")
    help_parser.set_defaults(handler=cmd_help)


def cmd_help(ctx: CliContext, args: argparse.Namespace) -> int:
    from ims_tui.cli.main import build_parser

    parser = build_parser()
    print(markdown(parser) if args.markdown else text(parser), end="")
    return 0


def _subcommands(parser: argparse.ArgumentParser) -> argparse._SubParsersAction | None:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action
    return None


def children(parser: argparse.ArgumentParser) -> dict[str, tuple[argparse.ArgumentParser, str]]:
    """A parser's subcommands by name, each with its one-line help."""
    action = _subcommands(parser)
    if action is None:
        return {}
    helps = {choice.dest: choice.help or "" for choice in action._choices_actions}
    return {name: (sub, helps.get(name, "")) for name, sub in action.choices.items()}


def commands(parser: argparse.ArgumentParser, path: tuple[str, ...] = (), summary: str = "") -> Iterator[Command]:
    """Every command a user can run, depth first in the order the parser lists them."""
    subs = children(parser)
    if path and (not subs or parser.get_default("handler") is not None):
        yield Command(path, parser, summary)
    for name, (sub, help_text) in subs.items():
        yield from commands(sub, (*path, name), help_text)


def _usage(command: Command) -> str:
    usage = command.parser.format_usage().strip()
    return " ".join(usage.removeprefix("usage:").split()).replace(" [-h]", "", 1)


def _options(parser: argparse.ArgumentParser) -> Iterator[tuple[str, str]]:
    for action in parser._actions:
        if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)) or action.help == argparse.SUPPRESS:
            continue
        if action.option_strings:
            name = ", ".join(action.option_strings)
            if action.nargs != 0:
                name += f" {action.metavar or action.dest.upper()}"
        else:
            name = action.metavar or action.dest.upper()
        yield name, " ".join((action.help or "").split())


def markdown(parser: argparse.ArgumentParser) -> str:
    lines = [HEADER]
    for command in commands(parser):
        lines += [f"## ims {' '.join(command.path)}", ""]
        if command.summary:
            lines += [command.summary[0].upper() + command.summary[1:] + ".", ""]
        lines += ["```", _usage(command), "```", ""]
        described = [(name, help_text) for name, help_text in _options(command.parser) if help_text]
        if described:
            lines += ["| argument | meaning |", "|---|---|"]
            lines += [f"| `{name}` | {help_text.replace('|', '/')} |" for name, help_text in described]
            lines.append("")
    return "\n".join(lines)


def text(parser: argparse.ArgumentParser) -> str:
    entries = [(f"ims {' '.join(command.path)}", command.summary) for command in commands(parser)]
    width = max(len(name) for name, _ in entries)
    return "".join(f"{name.ljust(width)}  {summary}\n" for name, summary in entries)
