"""Deployment settings, parsed once from the environment the template gives each function.

Nothing reads ``os.environ`` at import time: ``get_settings()`` parses on first use and caches,
and tests call ``get_settings.cache_clear()`` after changing the environment.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Literal

from stopsms.errors import StopSmsError
from stopsms.rules.brands import BrandMapError, number_key, parse_brand_map

ConsentPolicy = Literal["enforce", "record"]

_PREFIX = "STOPSMS_"


class ConfigurationError(StopSmsError):
    """A deployment setting is missing or malformed."""


def _flag(value: str, name: str) -> bool:
    lowered = value.strip().lower()
    if lowered in {"true", "1", "yes", "on"}:
        return True
    if lowered in {"false", "0", "no", "off", ""}:
        return False
    raise ConfigurationError(f"{_PREFIX}{name} must be true or false, got {value!r}")


def _int(value: str, name: str, minimum: int) -> int:
    try:
        number = int(value)
    except ValueError:
        raise ConfigurationError(f"{_PREFIX}{name} must be an integer, got {value!r}") from None
    if number < minimum:
        raise ConfigurationError(f"{_PREFIX}{name} must be >= {minimum}, got {number}")
    return number


def _brand_map(spec: str) -> Mapping[str, frozenset[str]]:
    try:
        return parse_brand_map(spec)
    except BrandMapError as error:
        raise ConfigurationError(f"{_PREFIX}INBOUND_BRANDS: {error}") from None


@dataclass(frozen=True)
class Settings:
    contact_state_table: str = "ContactStateTable"
    evidence_table: str = "EvidenceTable"
    campaigns_table: str = "CampaignsTable"
    deliveries_table: str = "DeliveriesTable"
    idempotency_table: str = "IdempotencyTable"
    send_queue_url: str = ""
    campaign_queue_url: str = ""
    send_max_receives: int = 5  # the SendQueue redrive maxReceiveCount
    fanout_slice_rows: int = 20_000  # S3 audience rows fanned out per invocation, at most
    check_slice_rows: int = 2_000_000  # S3 audience rows checked per invocation, at most
    fanout_safety_ms: int = 15_000  # a slice stops when less time than this is left
    stop_number: str = "36111"
    origination_identity: str = ""
    consent_policy: ConsentPolicy = "enforce"
    sending_window: str = "Mon-Sat 08:00-20:00"
    holidays_country: str = "FR"
    # number key (``brands.number_key``) -> the brands that print it as their stop number
    inbound_brands: Mapping[str, frozenset[str]] = field(default_factory=dict)
    smart_encoding: bool = True
    send_rate: int = 20
    opt_out_confirmation: bool = True
    mirror_opt_outs: bool = False
    opt_out_list: str = "Default"
    retention_days: int = 1095
    erasure_key_secret: str = ""  # Secrets Manager id of the HMAC key of erased numbers

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env

        def get(name: str, default: str) -> str:
            return env.get(_PREFIX + name, default)

        policy = get("CONSENT_POLICY", "enforce")
        if policy not in ("enforce", "record"):
            raise ConfigurationError(
                f"{_PREFIX}CONSENT_POLICY must be enforce or record, got {policy!r}"
            )
        defaults = cls()
        return cls(
            contact_state_table=get("CONTACT_STATE_TABLE", defaults.contact_state_table),
            evidence_table=get("EVIDENCE_TABLE", defaults.evidence_table),
            campaigns_table=get("CAMPAIGNS_TABLE", defaults.campaigns_table),
            deliveries_table=get("DELIVERIES_TABLE", defaults.deliveries_table),
            idempotency_table=get("IDEMPOTENCY_TABLE", defaults.idempotency_table),
            send_queue_url=get("SEND_QUEUE_URL", ""),
            campaign_queue_url=get("CAMPAIGN_QUEUE_URL", ""),
            send_max_receives=_int(get("SEND_MAX_RECEIVES", "5"), "SEND_MAX_RECEIVES", 1),
            fanout_slice_rows=_int(get("FANOUT_SLICE_ROWS", "20000"), "FANOUT_SLICE_ROWS", 1),
            check_slice_rows=_int(get("CHECK_SLICE_ROWS", "2000000"), "CHECK_SLICE_ROWS", 1),
            fanout_safety_ms=_int(get("FANOUT_SAFETY_MS", "15000"), "FANOUT_SAFETY_MS", 0),
            stop_number=get("STOP_NUMBER", defaults.stop_number),
            origination_identity=get("ORIGINATION_IDENTITY", ""),
            consent_policy=policy,  # type: ignore[arg-type]  # checked just above
            sending_window=get("SENDING_WINDOW", defaults.sending_window),
            holidays_country=get("HOLIDAYS_COUNTRY", defaults.holidays_country),
            inbound_brands=_brand_map(get("INBOUND_BRANDS", "")),
            smart_encoding=_flag(get("SMART_ENCODING", "true"), "SMART_ENCODING"),
            send_rate=_int(get("SEND_RATE", "20"), "SEND_RATE", 1),
            opt_out_confirmation=_flag(get("OPT_OUT_CONFIRMATION", "true"), "OPT_OUT_CONFIRMATION"),
            mirror_opt_outs=_flag(get("MIRROR_OPT_OUTS", "false"), "MIRROR_OPT_OUTS"),
            opt_out_list=get("OPT_OUT_LIST", defaults.opt_out_list),
            retention_days=_int(get("RETENTION_DAYS", "1095"), "RETENTION_DAYS", 1),
            erasure_key_secret=get("ERASURE_KEY_SECRET", ""),
        )

    def brands_of(self, number: str) -> frozenset[str]:
        """The brands the deployment says print ``number`` as their stop number."""
        return self.inbound_brands.get(number_key(number), frozenset())

    def receives_replies(self, number: str) -> bool:
        """Whether replies to ``number`` reach this stack: it is the deployment's stop number
        or an ``InboundBrands`` entry (the numbers whose two-way SMS goes to InboundTopic)."""
        key = number_key(number)
        return key in self.inbound_brands or (
            bool(self.stop_number) and key == number_key(self.stop_number)
        )


@cache
def get_settings() -> Settings:
    return Settings.from_env()
