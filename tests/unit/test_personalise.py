"""Placeholder parsing and rendering: syntax table, format-string tricks, properties."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stopsms.errors import MissingVariable, StopSmsError, TemplateError
from stopsms.rules.personalise import missing, placeholders, render

VALID: list[tuple[str, frozenset[str]]] = [
    ("", frozenset()),
    ("Bonjour", frozenset()),
    ("Bonjour {first_name}", frozenset({"first_name"})),
    ("{a}{b}{a}", frozenset({"a", "b"})),
    ("{_}", frozenset({"_"})),
    ("{_private9}", frozenset({"_private9"})),
    ("{Name2} -20% chez {SHOP}", frozenset({"Name2", "SHOP"})),
    ("{{literal}}", frozenset()),
    ("{{{name}}}", frozenset({"name"})),
    ("{{}}", frozenset()),
    ("}}{{", frozenset()),
    ("Code: {{ {code} }}", frozenset({"code"})),
    ("Été à {ville} 🌞", frozenset({"ville"})),
]

# (template, quoted bad placeholder, position)
INVALID: list[tuple[str, str, int]] = [
    ("{}", "{}", 0),
    ("{0}", "{0}", 0),
    ("Hi {1name}", "{1name}", 3),
    ("{0.__class__}", "{0.__class__}", 0),
    ("{name.__init__.__globals__}", "{name.__init__.__globals__}", 0),
    ("x {a.b}", "{a.b}", 2),
    ("{a[0]}", "{a[0]}", 0),
    ("{name!r}", "{name!r}", 0),
    ("{name!s}", "{name!s}", 0),
    ("{name:>10}", "{name:>10}", 0),
    ("{name:{width}}", "{name:", 0),
    ("{ name }", "{ name }", 0),
    ("{na me}", "{na me}", 0),
    ("{nom-client}", "{nom-client}", 0),
    ("{prénom}", "{prénom}", 0),
    ("{name", "{name", 0),
    ("abc {", "{", 4),
    ("abc }", "}", 4),
    ("{name}}", "}", 6),
    ("{{name}", "}", 6),
    ("{a{b}", "{a", 0),
    ("ok {a} then {b.c}", "{b.c}", 12),
]


@pytest.mark.parametrize(("template", "names"), VALID)
def test_placeholders_of_valid_templates(template: str, names: frozenset[str]) -> None:
    assert placeholders(template) == names


@pytest.mark.parametrize(("template", "bad", "position"), INVALID)
def test_invalid_templates_are_refused(template: str, bad: str, position: int) -> None:
    for call in (
        lambda: placeholders(template),
        lambda: render(template, {"name": "x", "a": "x", "b": "x", "width": 3}),
        lambda: missing(template, {}),
    ):
        with pytest.raises(TemplateError) as excinfo:
            call()
        message = str(excinfo.value)
        assert repr(bad) in message
        assert f"position {position}" in message


def test_long_bad_placeholder_is_truncated_in_message() -> None:
    with pytest.raises(TemplateError, match="…' at position 2: unclosed"):
        placeholders("a {" + "x" * 500)


@pytest.mark.parametrize(
    ("template", "variables", "expected"),
    [
        ("Bonjour {name}", {"name": "Zoé"}, "Bonjour Zoé"),
        ("{a}{b}{a}", {"a": 1, "b": 2.5}, "12.51"),
        ("{{name}} = {name}", {"name": "x"}, "{name} = x"),
        ("{{{name}}}", {"name": "x"}, "{x}"),
        ("Promo -20% {shop}", {"shop": "Café & Co"}, "Promo -20% Café & Co"),
        ("{flag}", {"flag": False}, "False"),
        ("{n}", {"n": 0}, "0"),
        ("{empty}!", {"empty": ""}, "!"),
        ("no placeholder", {}, "no placeholder"),
        ("{name}", {"name": "a\nb"}, "a\nb"),
    ],
)
def test_render(template: str, variables: dict[str, object], expected: str) -> None:
    assert render(template, variables) == expected


@pytest.mark.parametrize(
    "value",
    [
        "{other}",
        "{{name}}",
        "{0.__class__}",
        "{name.__init__.__globals__}",
        "}{",
        "%s %(x)s $x ${x}",
    ],
)
def test_values_are_never_re_expanded(value: str) -> None:
    assert render("Hi {name}!", {"name": value, "other": "LEAK"}) == f"Hi {value}!"


@pytest.mark.parametrize(
    "value", ["Zoé", "Łukasz", "Ἀθηνᾶ", "张伟", "محمد", "👩‍👩‍👧", "e\u0301", "\u200b"]
)
def test_unicode_values_are_inserted_verbatim(value: str) -> None:
    assert render("[{name}]", {"name": value}) == f"[{value}]"


def test_values_use_str() -> None:
    class Loud:
        def __str__(self) -> str:
            return "LOUD"

    assert render("{x}", {"x": Loud()}) == "LOUD"


def test_format_tricks_do_not_touch_the_values() -> None:
    class Trap:
        def __getattr__(self, name: str) -> object:
            raise AssertionError(f"attribute {name} looked up")

        def __format__(self, spec: str) -> str:
            raise AssertionError("format called")

    with pytest.raises(TemplateError):
        render("{x.__class__}", {"x": Trap()})
    with pytest.raises(TemplateError):
        render("{x:>10}", {"x": Trap()})


def test_missing_variable_raises_first_missing_in_order() -> None:
    with pytest.raises(MissingVariable) as excinfo:
        render("{a} {b} {c}", {"a": 1})
    assert excinfo.value.name == "b"
    assert isinstance(excinfo.value, StopSmsError)


def test_none_counts_as_missing() -> None:
    with pytest.raises(MissingVariable) as excinfo:
        render("Bonjour {name}", {"name": None})
    assert excinfo.value.name == "name"


def test_template_error_wins_over_missing_variable() -> None:
    with pytest.raises(TemplateError):
        render("{a} {0}", {})


def test_extra_variables_are_ignored() -> None:
    assert render("{a}", {"a": 1, "b": 2}) == "1"


@pytest.mark.parametrize(
    ("template", "variables", "expected"),
    [
        ("{a} {b} {a} {c}", {"b": 1}, ["a", "c"]),
        ("{a} {b}", {"a": None, "b": ""}, ["a"]),
        ("{a}", {"a": 1}, []),
        ("no vars", {}, []),
        ("{z}{y}{x}{y}", {}, ["z", "y", "x"]),
    ],
)
def test_missing(template: str, variables: dict[str, object], expected: list[str]) -> None:
    assert missing(template, variables) == expected


def test_placeholders_parse_cache_returns_same_result() -> None:
    # The parser is cached; a second call must not leak mutable state from the first.
    assert render("{a}-{{b}}", {"a": 1}) == "1-{b}"
    assert render("{a}-{{b}}", {"a": 2}) == "2-{b}"


# --- properties ------------------------------------------------------------------------------

NAMES = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,10}", fullmatch=True)
BRACE_FREE = st.text().map(lambda s: s.replace("{", "").replace("}", ""))


def _escape(text: str) -> str:
    return text.replace("{", "{{").replace("}", "}}")


@given(text=st.text())
def test_escaped_text_renders_to_itself(text: str) -> None:
    template = _escape(text)
    assert placeholders(template) == frozenset()
    assert render(template, {}) == text


@given(text=st.text(alphabet=st.sampled_from("ab{}{{}} é"), max_size=30))
def test_template_without_placeholders_unescapes_double_braces(text: str) -> None:
    # Whatever the text, either it is refused or it renders to the text with {{ }} unescaped.
    try:
        names = placeholders(text)
    except TemplateError:
        return
    if names:
        return
    assert render(text, {}) == text.replace("{{", "\0").replace("}}", "\1").replace(
        "\0", "{"
    ).replace("\1", "}")


@given(
    chunks=st.lists(st.tuples(BRACE_FREE, NAMES), max_size=5),
    tail=BRACE_FREE,
    value=st.text(),
)
def test_render_substitutes_each_placeholder_verbatim(
    chunks: list[tuple[str, str]], tail: str, value: str
) -> None:
    template = "".join(f"{text}{{{name}}}" for text, name in chunks) + tail
    variables = {name: f"<{name}:{value}>" for _, name in chunks}
    expected = "".join(f"{text}<{name}:{value}>" for text, name in chunks) + tail
    assert placeholders(template) == {name for _, name in chunks}
    assert render(template, variables) == expected
    assert missing(template, variables) == []


@given(template=st.text(max_size=60), variables=st.dictionaries(NAMES, st.text(), max_size=4))
def test_render_only_raises_domain_errors(template: str, variables: dict[str, str]) -> None:
    # render() fails exactly when placeholders()/missing() say it must, with the same culprit.
    try:
        absent = missing(template, variables)
    except TemplateError:
        with pytest.raises(TemplateError):
            render(template, variables)
        return
    if absent:
        with pytest.raises(MissingVariable) as excinfo:
            render(template, variables)
        assert excinfo.value.name == absent[0]
    else:
        assert isinstance(render(template, variables), str)


@given(template=st.text(max_size=60))
def test_placeholders_agree_with_identifier_syntax(template: str) -> None:
    try:
        names = placeholders(template)
    except TemplateError:
        return
    assert all(re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name) for name in names)
