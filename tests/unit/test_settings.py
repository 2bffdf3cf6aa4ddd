from __future__ import annotations

import pytest

from stopsms.settings import ConfigurationError, Settings, get_settings, parse_brand_map


def test_defaults_without_environment() -> None:
    settings = Settings.from_env({})
    assert settings.consent_policy == "enforce"
    assert settings.smart_encoding is True
    assert settings.stop_number == "36111"
    assert settings.brand_for("36111") == "default"


def test_every_variable_is_parsed() -> None:
    settings = Settings.from_env(
        {
            "STOPSMS_CONTACT_STATE_TABLE": "t1",
            "STOPSMS_CONSENT_POLICY": "record",
            "STOPSMS_INBOUND_BRANDS": "36111=acme, +33700000001=globex",
            "STOPSMS_DEFAULT_BRAND": "house",
            "STOPSMS_SMART_ENCODING": "false",
            "STOPSMS_SEND_RATE": "50",
            "STOPSMS_MIRROR_OPT_OUTS": "true",
            "STOPSMS_RETENTION_DAYS": "365",
        }
    )
    assert settings.contact_state_table == "t1"
    assert settings.consent_policy == "record"
    assert settings.brand_for("+33700000001") == "globex"
    assert settings.brand_for("38000") == "house"
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
    ],
)
def test_bad_values_are_named(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        Settings.from_env(env)


def test_brand_map_ignores_blank_entries() -> None:
    assert parse_brand_map(" , 36111=acme,") == {"36111": "acme"}


def test_settings_are_read_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STOPSMS_STOP_NUMBER", "38000")
    assert get_settings().stop_number == "38000"
    monkeypatch.setenv("STOPSMS_STOP_NUMBER", "39000")
    assert get_settings().stop_number == "38000"
    get_settings.cache_clear()
    assert get_settings().stop_number == "39000"
