"""The documentation cannot drift from the program: the CLI reference, the README's command
list, every command the docs name, and every relative link."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from ims_tui.cli import reference
from ims_tui.cli.main import build_parser

ROOT = Path(__file__).resolve().parent.parent
CODE_SPAN = re.compile(r"```[^\n]*\n(.*?)```|`([^`\n]+)`", re.S)
COMMAND_MENTION = re.compile(r"(?:^|[;&|(]\s*|\$\s*)ims((?: [a-z][\w-]*)+)", re.M)
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


def markdown_files() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "*.md"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout.split()
    return [ROOT / name for name in listed if (ROOT / name).exists()]


def walk(words: list[str], start=None) -> tuple[tuple[str, ...], object, str | None]:
    """Follow command words through the parser: (path, parser of the last word, first unknown word)."""
    parser = start or build_parser()
    path: list[str] = []
    for word in words:
        subs = reference.children(parser)
        if not subs:
            break
        if word not in subs:
            return tuple(path), parser, word if parser.get_default("handler") is None else None
        parser = subs[word][0]
        path.append(word)
    return tuple(path), parser, None


def split_alternatives(line: str) -> list[str]:
    """``user list | passwd NAME`` -> its alternatives; a ``|`` inside brackets is an option's."""
    parts, depth, current = [], 0, ""
    for char in line:
        depth += char in "[(" and 1 or (char in "])" and -1 or 0)
        if char == "|" and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    return [*parts, current]


def readme_commands() -> set[tuple[str, ...]]:
    """Commands the README's command list names, shorthand alternatives included."""
    named: set[tuple[str, ...]] = set()
    readme = (ROOT / "README.md").read_text()
    for block in re.findall(r"```sh\n(.*?)```", readme, re.S):
        for line in block.splitlines():
            line = line.split("#", 1)[0].strip()
            if not line.startswith("ims "):
                continue
            alternatives = split_alternatives(line.removeprefix("ims "))
            path, parser, _ = walk(alternatives[0].split())
            named.add(path)
            for alternative in alternatives[1:]:
                if alternative.strip().startswith("ims "):
                    named.add(walk(alternative.split()[1:])[0])
                    continue
                parent_path, parent = path[:-1], walk(list(path[:-1]))[1]
                sub_path, _, _ = walk(alternative.split()[:1], start=parent)
                if sub_path:
                    named.add(parent_path + sub_path)
    return named


def test_reference_is_generated_from_the_parser():
    generated = reference.markdown(build_parser())
    on_disk = (ROOT / "docs" / "cli.md").read_text()
    assert on_disk == generated, "docs/cli.md is stale: run 'ims help --markdown > docs/cli.md'"


def test_every_command_is_in_the_readme_command_list():
    named = readme_commands()
    missing = [" ".join(command.path) for command in reference.commands(build_parser()) if command.path not in named]
    assert not missing, f"the README's command list does not name: {', '.join(missing)}"


@pytest.mark.parametrize("path", markdown_files(), ids=lambda path: str(path.relative_to(ROOT)))
def test_every_command_the_docs_name_exists(path: Path):
    unknown = []
    for block, span in CODE_SPAN.findall(path.read_text()):
        for mention in COMMAND_MENTION.finditer(block or span):
            _, _, bad_word = walk(mention.group(1).split())
            if bad_word is not None:
                unknown.append(f"ims{mention.group(1)}")
    assert not unknown, f"{path.name} names commands the program does not have: {unknown}"


def heading_anchors(path: Path) -> set[str]:
    anchors = set()
    for heading in re.findall(r"^#+ (.+)$", path.read_text(), re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        anchors.add(slug)
    return anchors


@pytest.mark.parametrize("path", markdown_files(), ids=lambda path: str(path.relative_to(ROOT)))
def test_every_relative_link_resolves_inside_the_repository(path: Path):
    broken = []
    for target in LINK.findall(path.read_text()):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):
            continue
        file_part, _, anchor = target.partition("#")
        resolved = (path.parent / file_part).resolve() if file_part else path
        if ROOT not in resolved.parents and resolved != ROOT:
            broken.append(f"{target} (outside the repository)")
        elif not resolved.exists():
            broken.append(f"{target} (no such file)")
        elif anchor and resolved.suffix == ".md" and anchor not in heading_anchors(resolved):
            broken.append(f"{target} (no such heading)")
    assert not broken, f"{path.relative_to(ROOT)}: {broken}"
