from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stopsms.emulator import template
from stopsms.rules.brands import parse_brand_map
from stopsms.rules.window import SendingWindow
from stopsms.settings import ConfigurationError, Settings, get_settings


def test_defaults_without_environment() -> None:
    settings = Settings.from_env({})
    assert settings.consent_policy == "enforce"
    assert settings.smart_encoding is True
    assert settings.stop_number == "36111"
    assert settings.brands_of("36111") == frozenset()  # no phantom "default" brand
    assert settings.receives_replies("36 111")
    assert not settings.receives_replies("38000")


def test_every_variable_is_parsed() -> None:
    settings = Settings.from_env(
        {
            "STOPSMS_CONTACT_STATE_TABLE": "t1",
            "STOPSMS_CONSENT_POLICY": "record",
            "STOPSMS_INBOUND_BRANDS": "36111=Acme, +33700000001=globex,36111=initech",
            "STOPSMS_SMART_ENCODING": "false",
            "STOPSMS_SEND_RATE": "50",
            "STOPSMS_MIRROR_OPT_OUTS": "true",
            "STOPSMS_RETENTION_DAYS": "365",
        }
    )
    assert settings.contact_state_table == "t1"
    assert settings.consent_policy == "record"
    assert settings.brands_of("07 00 00 00 01") == {"globex"}
    assert settings.brands_of("36111") == {"acme", "initech"}
    assert settings.brands_of("38000") == frozenset()
    assert settings.receives_replies("+33700000001")
    assert (settings.smart_encoding, settings.send_rate, settings.mirror_opt_outs) == (
        False,
        50,
        True,
    )
    assert settings.retention_days == 365


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"STOPSMS_CONSENT_POLICY": "maybe"}, "CONSENT_POLICY"),
        ({"STOPSMS_SMART_ENCODING": "perhaps"}, "SMART_ENCODING"),
        ({"STOPSMS_SEND_RATE": "fast"}, "SEND_RATE"),
        ({"STOPSMS_SEND_RATE": "0"}, "SEND_RATE"),
        ({"STOPSMS_INBOUND_BRANDS": "36111"}, "INBOUND_BRANDS"),
        ({"STOPSMS_INBOUND_BRANDS": "36111=*"}, "INBOUND_BRANDS"),
        ({"STOPSMS_INBOUND_BRANDS": "acme=36111"}, "INBOUND_BRANDS"),
    ],
)
def test_bad_values_are_named(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        Settings.from_env(env)


def test_brand_map_ignores_blank_entries() -> None:
    assert parse_brand_map(" , 36111=acme,") == {"36111": frozenset({"acme"})}


# The template's AllowedPattern is what CloudFormation checks at deploy time: everything it
# lets through must also be read by the functions, or a typo fails at the first invocation.
def _pattern(name: str) -> str:
    return str(template.load()["Parameters"][name]["AllowedPattern"])


_TEXT = st.characters(codec="latin-1", exclude_categories=("Cc",))


@given(st.from_regex(re.compile(_pattern("InboundBrands")), fullmatch=True, alphabet=_TEXT))
def test_every_inbound_brands_value_the_template_accepts_is_read(spec: str) -> None:
    Settings.from_env({"STOPSMS_INBOUND_BRANDS": spec})


def window_pattern() -> str:
    """The SendingWindow AllowedPattern: a regex cannot compare two times, so the hours are
    spelt out, each start hour with the later end hours (a window spans at least the next
    hour: 08:30-09:15 is accepted, 08:00-08:30 and 20:00-08:00 are not)."""

    def later(h: int) -> str:
        parts = [f"0?[{h + 1}-9]"] if h < 9 else []
        if h < 19:
            parts.append(f"1[{max(h + 1, 10) - 10}-9]")
        parts.append(f"2[{max(h + 1, 20) - 20}-3]")
        return "|".join(parts)

    minute = "[0-5][0-9]"
    hours = "|".join(
        f"{f'0?{h}' if h < 10 else h}:{minute}-(?:{later(h)}):{minute}" for h in range(23)
    )
    day = "(?:mon|tue|wed|thu|fri|sat|sun)"
    days = f"{day}(?:-{day})?(?:,{day}(?:-{day})?)*"
    holidays = "(?: +(?:holidays(?:=[a-z]{2})?|no-holidays))?"
    return f"(?i)^{days} +(?:{hours}){holidays}$"


def test_the_template_sending_window_pattern_is_the_generated_one() -> None:
    assert _pattern("SendingWindow") == window_pattern()


@given(st.from_regex(re.compile(_pattern("SendingWindow")), fullmatch=True))
def test_every_sending_window_the_template_accepts_is_read(spec: str) -> None:
    SendingWindow.parse(spec)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("InboundBrands", "36111"),
        ("InboundBrands", "36111=acme;38000=globex"),
        ("InboundBrands", "36111=*"),
        ("SendingWindow", "Lun-Sam 08:00-20:00"),
        ("SendingWindow", "Mon-Sat 8h-20h"),
        ("SendingWindow", "Mon-Sat 08:00-20:00 feriés"),
        ("SendingWindow", "Mon-Sat 20:00-08:00"),
        ("SendingWindow", "Mon-Sat 08:00-08:00"),
        ("SendingWindow", "Mon-Sat 08:00-08:30"),
    ],
)
def test_the_template_refuses_typos_at_deploy_time(name: str, value: str) -> None:
    assert re.fullmatch(_pattern(name), value) is None


def test_settings_are_read_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STOPSMS_STOP_NUMBER", "38000")
    assert get_settings().stop_number == "38000"
    monkeypatch.setenv("STOPSMS_STOP_NUMBER", "39000")
    assert get_settings().stop_number == "38000"
    get_settings.cache_clear()
    assert get_settings().stop_number == "39000"
