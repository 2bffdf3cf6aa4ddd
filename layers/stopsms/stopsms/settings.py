"""Deployment settings, parsed once from the environment the template gives each function.

Nothing reads ``os.environ`` at import time: ``get_settings()`` parses on first use and caches,
and tests call ``get_settings.cache_clear()`` after changing the environment.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import cache
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
)

from stopsms.errors import StopSmsError
from stopsms.rules.brands import number_key, parse_brand_map
from stopsms.rules.window import SendingWindow

ConsentPolicy = Literal["enforce", "record"]

PREFIX = "STOPSMS_"


class ConfigurationError(StopSmsError):
    """A deployment setting is missing or malformed; the message names the variable."""


def _blank_is_false(value: Any) -> Any:
    return value.strip() or "false" if isinstance(value, str) else value


def _brand_map(value: Any) -> Any:
    return parse_brand_map(value) if isinstance(value, str) else value


def _window(value: str) -> str:
    try:
        SendingWindow.parse(value)  # read at first use: a typo must fail here, named
    except StopSmsError as error:
        raise ValueError(str(error)) from None
    return value


Flag = Annotated[bool, BeforeValidator(_blank_is_false)]
Count = Annotated[int, Field(ge=1)]


class Settings(BaseModel):
    """Every setting, read from ``STOPSMS_<NAME>`` (``send_rate`` from ``STOPSMS_SEND_RATE``);
    the defaults are the template's."""

    model_config = ConfigDict(
        frozen=True,
        extra="ignore",
        alias_generator=lambda name: PREFIX + name.upper(),
        populate_by_name=True,
    )

    contact_state_table: str = "ContactStateTable"
    evidence_table: str = "EvidenceTable"
    campaigns_table: str = "CampaignsTable"
    deliveries_table: str = "DeliveriesTable"
    idempotency_table: str = "IdempotencyTable"
    send_queue_url: str = ""
    campaign_queue_url: str = ""
    send_max_receives: Count = 5  # the SendQueue redrive maxReceiveCount
    fanout_slice_rows: Count = 20_000  # S3 audience rows fanned out per invocation, at most
    check_slice_rows: Count = 2_000_000  # S3 audience rows checked per invocation, at most
    fanout_safety_ms: Annotated[int, Field(ge=0)] = 15_000  # a slice stops with less left
    stop_number: str = "36111"
    origination_identity: str = ""
    # The End User Messaging configuration set every SMS names, so that its delivery events
    # reach DeliveryEventsTopic (contract §5, §7); empty: none named.
    configuration_set: Annotated[str, Field(pattern="^[A-Za-z0-9_:/-]{0,256}$")] = ""
    consent_policy: ConsentPolicy = "enforce"
    sending_window: Annotated[str, AfterValidator(_window)] = "Mon-Sat 08:00-20:00"
    holidays_country: Annotated[str, Field(pattern="^[A-Z]{2}$")] = "FR"  # ISO 3166 alpha-2
    # number key (``brands.number_key``) -> the brands that print it as their stop number
    inbound_brands: Annotated[Mapping[str, frozenset[str]], BeforeValidator(_brand_map)] = Field(
        default_factory=dict
    )
    smart_encoding: Flag = True
    send_rate: Count = 20
    opt_out_confirmation: Flag = True
    mirror_opt_outs: Flag = False
    opt_out_list: str = "Default"
    retention_days: Count = 1095
    erasure_key_secret: str = ""  # Secrets Manager id of the HMAC key of erased numbers
    # Dry runs' prices: empty for the default table, else inline JSON or an s3:// URI of one
    # (``stopsms.aws.prices``); the countries it gives override the default table's.
    price_table: str = ""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """The settings of ``env`` (the process environment by default)."""
        env = os.environ if env is None else env
        try:
            return cls.model_validate({k: v for k, v in env.items() if k.startswith(PREFIX)})
        except ValidationError as error:
            problems = [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors()]
            raise ConfigurationError("; ".join(problems)) from None

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
