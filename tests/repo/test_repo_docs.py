"""What a new user reads in a fresh clone holds: every link stays inside the repository and
reaches a file, every ``make`` target, ``python -m stopsms`` command line and example file the
docs name exists, ``env.json`` gives each function its environment, and LICENSE is the Apache
License 2.0. Each case is named ``file:line`` so a failure points at the line to fix."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from markdown_it import MarkdownIt

from stopsms.cli import build_parser
from stopsms.emulator.template import load, resources_of

ROOT = Path(__file__).resolve().parents[2]

# Virtualenvs, caches and build output are not the repository's documents.
_SKIPPED_DIRS = frozenset({"node_modules", "htmlcov", "tmp"})


@dataclass(frozen=True)
class Found:
    """Something a document says, and where: ``file:line``."""

    where: str
    text: str


def _markdown_files() -> list[Path]:
    found = []
    for folder, dirs, files in os.walk(ROOT):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in _SKIPPED_DIRS)
        found += [Path(folder, name) for name in sorted(files) if name.endswith(".md")]
    return found


MARKDOWN = _markdown_files()


def _where(path: Path, line: int) -> str:
    return f"{path.relative_to(ROOT)}:{line}"


def _tokens(path: Path) -> list[Any]:
    # A real CommonMark parser: links inside code, reference links and escapes are read as a
    # reader's renderer reads them, which a regular expression would not.
    return MarkdownIt("commonmark").enable("table").parse(path.read_text(encoding="utf-8"))


def _links(path: Path) -> Iterator[Found]:
    for token in _tokens(path):
        if token.type != "inline" or token.map is None:
            continue
        line = token.map[0] + 1
        for child in token.children or []:
            if child.type in ("softbreak", "hardbreak"):
                line += 1
            elif child.type == "link_open":
                yield Found(_where(path, line), str(child.attrs["href"]))
            elif child.type == "image":
                yield Found(_where(path, line), str(child.attrs["src"]))


def _code_lines(path: Path) -> Iterator[Found]:
    """Each command line of the fenced and indented code blocks, continuations joined."""
    for token in _tokens(path):
        if token.type not in ("fence", "code_block") or token.map is None:
            continue
        first = token.map[0] + (2 if token.type == "fence" else 1)
        pending: list[str] = []
        start = first
        for offset, raw in enumerate(token.content.splitlines()):
            if not pending:
                start = first + offset
            stripped = raw.strip()
            if stripped.endswith("\\"):
                pending.append(stripped[:-1])
                continue
            command = " ".join([*pending, stripped]).strip()
            pending = []
            if command:
                yield Found(_where(path, start), command.removeprefix("$ "))


def _inline_code(path: Path) -> Iterator[Found]:
    for token in _tokens(path):
        if token.type != "inline" or token.map is None:
            continue
        line = token.map[0] + 1
        for child in token.children or []:
            if child.type in ("softbreak", "hardbreak"):
                line += 1
            elif child.type == "code_inline":
                yield Found(_where(path, line), child.content)


def _cases(found: Iterator[Found]) -> list[Any]:
    return [pytest.param(item, id=item.where) for item in found]


# ------------------------------------------------------------------ 1. links stay and resolve

_EXTERNAL = re.compile(r"^[a-z][a-z0-9+.-]*:", re.IGNORECASE)  # https:, mailto:…


def _relative_links() -> Iterator[Found]:
    for path in MARKDOWN:
        for link in _links(path):
            target = link.text.split("#", 1)[0].split("?", 1)[0]
            if target and not _EXTERNAL.match(target):
                yield Found(link.where, target)


@pytest.mark.parametrize("link", _cases(_relative_links()))
def test_relative_link_resolves_inside_the_repository(link: Found) -> None:
    source = ROOT / link.where.rsplit(":", 1)[0]
    target = (source.parent / link.text).resolve()
    assert target.is_relative_to(ROOT), f"{link.where}: {link.text} leaves the repository"
    assert target.exists(), f"{link.where}: {link.text} does not exist in the repository"


def test_no_link_leaves_the_repository() -> None:
    """The repository carries everything it refers to: no web link (an autolink
    ``<https://…>`` is a link too); products are named, not linked."""
    external = [f"{link.where}: {link.text}" for p in MARKDOWN for link in _links(p)]
    external = [found for found in external if _EXTERNAL.match(found.split(": ", 1)[1])]
    assert not external, external


# ------------------------------------------------------------------ 2. make targets exist

# A rule's head: `name other: prerequisites`, not `NAME := value` nor `$(VENV)/.installed:`.
# Read by hand: `make -p` would run the Makefile's $(shell …) lookups for one list of names.
_RULE = re.compile(r"^([A-Za-z][\w.-]*(?:[ \t]+[A-Za-z][\w.-]*)*)[ \t]*:(?![:=])", re.MULTILINE)
MAKE_TARGETS = frozenset(
    name
    for head in _RULE.findall((ROOT / "Makefile").read_text(encoding="utf-8"))
    for name in head.split()
)
# `make` as a command: at the start of a line or after a shell separator.
_MAKE = re.compile(r"(?:^|[;&|(]\s*)make\s+([^;&|#)]*)")


# Its code spans are SMS replies people write ("make this stop"), not commands.
_REPLY_SAMPLES = ROOT / "docs" / "KEYWORDS.md"


def _make_targets() -> Iterator[Found]:
    for path in MARKDOWN:
        spans = _inline_code(path) if path != _REPLY_SAMPLES else iter(())
        lines = [*_code_lines(path), *spans]
        for line in lines:
            for words in _MAKE.findall(line.text):
                for word in words.split():
                    if not word.startswith("-") and "=" not in word:
                        yield Found(line.where, word)


def test_the_makefile_has_targets() -> None:
    assert {"test", "demo"} <= MAKE_TARGETS  # the parse above reads rules, not nothing


@pytest.mark.parametrize("target", _cases(_make_targets()))
def test_make_target_exists(target: Found) -> None:
    assert target.text in MAKE_TARGETS, f"{target.where}: no target {target.text!r} in Makefile"


# ------------------------------------------------------------------ 3. CLI lines parse

_CLI = re.compile(
    r"^(?:[A-Z_]+=\S*\s+)*(?:\S*/)?python(?:3(?:\.12)?)?\s+-m\s+stopsms(?P<args>(?:\s.*)?)$"
)
# What the docs write for the reader to fill in: ID, FILE, NAME, N, <CampaignQueueUrl>…
_PLACEHOLDER = re.compile(r"^(?:[A-Z][A-Z0-9_]*|<[^<>]+>)$")


def _cli_lines() -> Iterator[Found]:
    for path in MARKDOWN:
        for line in _code_lines(path):
            match = _CLI.match(line.text)
            if match:
                yield Found(line.where, match["args"].strip())


@pytest.mark.parametrize("command", _cases(_cli_lines()))
def test_stopsms_command_line_parses(command: Found) -> None:
    # "1" stands for every placeholder: a valid string, and a valid count for --planned N.
    argv = ["1" if _PLACEHOLDER.match(word) else word for word in shlex.split(command.text, True)]
    errors = io.StringIO()
    code: int | str | None = 0
    try:
        with contextlib.redirect_stderr(errors), contextlib.redirect_stdout(io.StringIO()):
            build_parser().parse_args(argv)
    except SystemExit as exit_:  # argparse's way of refusing (or of --help, exit 0)
        code = exit_.code
    assert code in (0, None), (
        f"{command.where}: python -m stopsms {command.text}\n{errors.getvalue().strip()}"
    )


def test_the_docs_show_stopsms_commands() -> None:
    # The extraction above must find the README's own command lines, or the test proves nothing.
    assert any(found.where.startswith("README.md:") for found in _cli_lines())


# ------------------------------------------------------------------ 4. examples and events

_SAMPLE = re.compile(r"(?:(?<=file://)|(?<![\w./-]))((?:examples|events)/[\w.-]+\.json)\b")


def _samples() -> Iterator[Found]:
    for path in MARKDOWN:
        text = path.read_text(encoding="utf-8")
        for number, line in enumerate(text.splitlines(), start=1):
            for name in _SAMPLE.findall(line):
                yield Found(_where(path, number), name)


@pytest.mark.parametrize("sample", _cases(_samples()))
def test_named_sample_file_exists(sample: Found) -> None:
    assert (ROOT / sample.text).is_file(), f"{sample.where}: {sample.text} does not exist"


# ------------------------------------------------------------------ 5. aws CLI commands exist

# Options of every AWS CLI command, and the pagination options of every listing.
_AWS_GLOBAL = frozenset(
    {"region", "output", "query", "profile", "debug", "endpoint-url", "no-paginate",
     "no-cli-pager", "cli-binary-format", "cli-input-json", "max-items", "starting-token",
     "page-size"}
)  # fmt: skip
# The AWS CLI's own names for a few API parameters (awscli's customizations; awscli itself is
# not a dependency): `sns subscribe --notification-endpoint` is the API's Endpoint.
_AWS_RENAMED = {("sns", "subscribe"): {"notification-endpoint": "Endpoint"}}
# High-level commands (`aws s3 cp`) and waiters are the CLI's, not operations of a model.
_AWS_NOT_API = frozenset({("s3", None), ("cloudformation", "wait")})
_SHELL_BREAK = re.compile(r"\$\(|\)|\|\|?|;|&&|\{")


def _aws_commands() -> Iterator[Found]:
    for path in MARKDOWN:
        for line in _code_lines(path):
            for segment in _SHELL_BREAK.split(line.text):
                words = segment.split()
                if len(words) >= 3 and words[0] == "aws":
                    yield Found(line.where, segment.strip())


@pytest.mark.parametrize("command", _cases(_aws_commands()))
def test_aws_command_matches_botocore_model(command: Found) -> None:
    from botocore import xform_name
    from botocore.session import get_session

    _aws, service, operation, *rest = command.text.split()
    if (service, None) in _AWS_NOT_API or (service, operation) in _AWS_NOT_API:
        return
    model = get_session().get_service_model(service)
    operations = {xform_name(name, "-"): name for name in model.operation_names}
    assert operation in operations, f"{command.where}: no `aws {service} {operation}`"
    members = model.operation_model(operations[operation]).input_shape
    known = {xform_name(name, "-"): name for name in (members.members if members else {})}
    known |= _AWS_RENAMED.get((service, operation), {})
    for word in rest:
        option = word.split("=", 1)[0].removeprefix("--")
        if not word.startswith("--") or option in _AWS_GLOBAL:
            continue
        # Booleans have a negative form: --two-way-enabled / --no-two-way-enabled.
        name = option if option in known else option.removeprefix("no-")
        assert name in known, f"{command.where}: `aws {service} {operation}` has no --{option}"


# ------------------------------------------------------------------ 6. env.json for sam local

TEMPLATE = load()
FUNCTIONS = resources_of(TEMPLATE, "AWS::Serverless::Function")
ENV_FILE = json.loads((ROOT / "env.json").read_text(encoding="utf-8"))


def _declared(function: str) -> set[str]:
    """The variables SAM gives ``function``: the Globals' and its own (only those can be set
    from env.json: SAM ignores the others silently)."""
    shared = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]
    own = FUNCTIONS[function].get("Environment", {}).get("Variables", {})
    return {*shared, *own}


def test_env_json_names_only_functions_and_shared_settings() -> None:
    assert set(ENV_FILE) - {"Parameters"} == set(FUNCTIONS)
    # "Parameters" reaches every function: only the Globals' variables belong there.
    shared = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]
    assert set(ENV_FILE["Parameters"]) <= set(shared)


@pytest.mark.parametrize("function", sorted(FUNCTIONS))
def test_env_json_gives_each_function_its_settings(function: str) -> None:
    given = {**ENV_FILE["Parameters"], **ENV_FILE[function]}
    declared = _declared(function)
    settings = {name for name in declared if name.startswith("STOPSMS_")}
    assert settings <= set(given), f"env.json lacks {sorted(settings - set(given))} of {function}"
    unused = set(ENV_FILE[function]) - declared
    assert not unused, f"{function} declares no {sorted(unused)}: SAM would ignore them"
    assert all(isinstance(value, str) for value in given.values())


# ------------------------------------------------------------------ 7. the licence

# SHA-256 of the Apache License 2.0 as the Apache Software Foundation publishes it
# (https://www.apache.org/licenses/LICENSE-2.0.txt), appendix placeholder included.
APACHE_2_0_SHA256 = "cfc7749b96f63bd31c3c42b5c471bf756814053e847c10f3eb003417bc523d30"
COPYRIGHT = "   Copyright 2026 The StopSMS authors\n"


def test_license_is_the_apache_2_0_text() -> None:
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert COPYRIGHT in text, "the appendix names the copyright holder"
    published = text.replace(COPYRIGHT, "   Copyright [yyyy] [name of copyright owner]\n")
    assert hashlib.sha256(published.encode()).hexdigest() == APACHE_2_0_SHA256
