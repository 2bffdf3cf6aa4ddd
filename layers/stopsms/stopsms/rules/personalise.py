"""Fill the ``{name}`` placeholders of a campaign body with a recipient's variables, safely.

Syntax: ``{identifier}`` with ``identifier`` matching ``[A-Za-z_][A-Za-z0-9_]*``; ``{{`` and
``}}`` are literal braces. Anything else in braces (``{}``, ``{0}``, ``{a.b}``, ``{a[0]}``,
``{name!r}``, ``{name:>10}``) and any unbalanced ``{`` or ``}`` is a :class:`TemplateError`.

Safety: templates come from campaign authors, so they are tokenised with one regular expression
and never handed to ``str.format``/``format_map``/``string.Template``: attribute and index
lookups such as ``{0.__class__}`` or ``{name.__init__.__globals__}`` cannot run, they are
refused as bad placeholders. Values are inserted as ``str(value)`` verbatim and never
re-expanded, so a recipient named ``{first_name}`` stays ``{first_name}``.

Missing values: a name absent from the variables OR mapped to ``None`` is missing (``None``
usually means an empty CSV/DB column; printing "None" in an SMS is never what was meant).
:func:`render` raises :class:`MissingVariable` for the first missing name in template order.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

from stopsms.errors import MissingVariable, TemplateError

# One token per brace construct; the text between two matches never contains a brace.
# "bad" catches everything else that starts with a brace: up to the closing brace if there is
# one before the next opening brace, otherwise the lone brace and what follows it.
_TOKEN = re.compile(
    r"(?P<open>\{\{)|(?P<close>\}\})"
    r"|\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)\}"
    r"|(?P<bad>\{[^{}]*\}?|\})"
)

# Longest excerpt of a bad placeholder quoted in an error message (templates can be long).
_MAX_QUOTE = 40


@dataclass(frozen=True, slots=True)
class _Field:
    """A ``{name}`` placeholder in a parsed template."""

    name: str


type _Part = str | _Field


def placeholders(template: str) -> frozenset[str]:
    """Return the names of the placeholders of ``template``; raise TemplateError if invalid."""
    return frozenset(part.name for part in _parse(template) if isinstance(part, _Field))


def missing(template: str, variables: Mapping[str, object]) -> list[str]:
    """Return the placeholder names without a (non-None) value, in first-use order, no repeats."""
    names = dict.fromkeys(part.name for part in _parse(template) if isinstance(part, _Field))
    return [name for name in names if variables.get(name) is None]


def render(template: str, variables: Mapping[str, object]) -> str:
    """Substitute every placeholder of ``template`` with ``str(value)``.

    Raises TemplateError for a bad template (checked first, whatever the variables) and
    MissingVariable for the first placeholder whose value is absent or None.
    """
    out: list[str] = []
    for part in _parse(template):
        if isinstance(part, str):
            out.append(part)
            continue
        value = variables.get(part.name)
        if value is None:
            raise MissingVariable(part.name)
        out.append(str(value))
    return "".join(out)


@lru_cache(maxsize=256)
def _parse(template: str) -> tuple[_Part, ...]:
    # Cached: a campaign renders the same body once per recipient.
    parts: list[_Part] = []
    position = 0
    for match in _TOKEN.finditer(template):
        _append_literal(parts, template[position : match.start()])
        position = match.end()
        if match["open"]:
            _append_literal(parts, "{")
        elif match["close"]:
            _append_literal(parts, "}")
        elif match["name"]:
            parts.append(_Field(match["name"]))
        else:
            raise TemplateError(_bad_placeholder_message(match["bad"], match.start()))
    _append_literal(parts, template[position:])
    return tuple(parts)


def _append_literal(parts: list[_Part], text: str) -> None:
    # Merge adjacent literals so rendering joins as few pieces as possible.
    if not text:
        return
    if parts and isinstance(parts[-1], str):
        parts[-1] += text
    else:
        parts.append(text)


def _bad_placeholder_message(bad: str, position: int) -> str:
    quoted = bad if len(bad) <= _MAX_QUOTE else bad[:_MAX_QUOTE] + "…"
    if bad == "}":
        problem = "single '}' (write '}}' for a literal brace)"
    elif not bad.endswith("}"):
        problem = "unclosed '{' (write '{{' for a literal brace)"
    else:
        problem = "placeholders must be {identifier} with letters, digits and '_'"
    return f"invalid placeholder {quoted!r} at position {position}: {problem}"
