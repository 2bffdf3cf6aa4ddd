"""Messages of the public contract (``CONTRACTS.md`` §2-§4), parsed and validated with pydantic.

Unknown fields are ignored so upstream systems may add their own; every field the contract
names is checked here, at the boundary, and a refusal names the field at fault.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any, Literal, Self

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

from stopsms import clock
from stopsms.errors import InvalidPhoneNumber, TemplateError
from stopsms.rules.brands import (
    DEFAULT_BRAND,
    EVERY_BRAND,
    MAX_BRAND_CHARS,
    canonical_brand,
    refuse_unsafe,
)
from stopsms.rules.controls import first_unsafe
from stopsms.rules.personalise import placeholders
from stopsms.rules.phones import normalize

CAMPAIGN_ID = r"^[A-Za-z0-9._-]{1,64}$"
CampaignId = Annotated[str, StringConstraints(pattern=CAMPAIGN_ID)]
# Brands are case-insensitive: stored casefolded (``brands.canonical_brand``), so "Acme" and
# "acme" are one brand. "*" is the scope of opt-outs that apply to every brand, so no brand
# may start with it.
Brand = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=MAX_BRAND_CHARS, pattern=r"^[^*\s]"
    ),
    # Runs before the stripping above (it wraps it): Python strips U+0085, U+2028 as blanks.
    BeforeValidator(lambda raw: refuse_unsafe(raw) if isinstance(raw, str) else raw),
    AfterValidator(canonical_brand),
]
VarValue = str | int | float | bool | None


# YYYY-MM-DDThh:mm, the start of an ISO-8601 extended date-time (pydantic checks the rest).
_ISO_DATE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}")


def _iso_only(value: Any) -> Any:
    # pydantic would read a number, or a string of digits ("20261225", "1798200000"), as a
    # Unix time: the contract says an ISO-8601 date-time with an offset.
    if isinstance(value, str) and not _ISO_DATE_TIME.match(value.strip()):
        raise ValueError("must be an ISO-8601 date-time with an offset (2026-12-24T18:00:00+01:00)")
    if isinstance(value, int | float):
        raise ValueError("must be an ISO-8601 date-time with an offset, not a number")
    return value


Instant = Annotated[AwareDatetime, BeforeValidator(_iso_only)]

# An upstream clock may run a little fast; a record far in the future would pin the
# state of a number until that date, so it is refused.
MAX_CLOCK_SKEW = timedelta(hours=1)
# A campaign scheduled further ahead is a typo (year 9999): refused rather than parked.
MAX_SEND_AHEAD = timedelta(days=366)
# No SMS consent or opt-out predates this: earlier dates are placeholders (0001-01-01, the
# "no date" of some systems), and the oldest of them do not even convert to UTC.
EARLIEST_EVENT = datetime(2000, 1, 1, tzinfo=UTC)
MAX_BODY_CHARS = 1600  # 10 UCS-2 segments is already a letter, not an SMS
MAX_INLINE_RECIPIENTS = 10_000  # an SQS message is 256 KiB anyway; larger lists go to S3

_S3_URI = re.compile(r"^s3://(?P<bucket>[a-z0-9][a-z0-9.-]{1,61}[a-z0-9])/(?P<key>.+)$")


class Category(StrEnum):
    """What the SMS is: marketing gets the STOP mention, consent, suppression and the sending
    window; transactional and informational messages are exempt from all four."""

    MARKETING = "marketing"
    TRANSACTIONAL = "transactional"
    INFORMATIONAL = "informational"

    @property
    def is_marketing(self) -> bool:
        return self is Category.MARKETING


class _Contract(BaseModel):
    # defer_build: a model's validator is built at its first use, so a function never pays for
    # the models it does not read (cold start).
    model_config = ConfigDict(
        extra="ignore", frozen=True, str_strip_whitespace=True, defer_build=True
    )


class Recipient(_Contract):
    """One recipient of an inline campaign, with the values of its body's placeholders."""

    phone: str = Field(
        min_length=1,
        max_length=64,
        description=(
            "The phone number, in any common format: E.164 (+33612345678) or national "
            "(06 12 34 56 78, read as French). A number that cannot exist is not an error of "
            "the request: that recipient is reported suppressed / invalid_number."
        ),
        examples=["+33612345678", "06 12 34 56 78"],
    )
    vars: dict[str, VarValue] = Field(
        default_factory=dict,
        description=(
            "Values of the body's {name} placeholders for this recipient (strings, numbers, "
            "booleans). Default: none; a placeholder whose value is missing or null leaves "
            "that recipient failed / missing_variable, nothing sent to them."
        ),
        examples=[{"first_name": "Lea"}],
    )


class Audience(_Contract):
    """An audience too large for the message: a CSV in the stack's audience bucket, checked
    whole before anyone is queued (contract section 2, S3 audiences)."""

    s3_uri: str = Field(
        description=(
            "Where the CSV is: s3://BUCKET/KEY, the bucket being the stack's output "
            "AudienceBucketName. UTF-8, a header row naming the columns, 'phone' (any case) "
            "required, every other column a variable of the recipient."
        ),
        examples=["s3://stopsms-audiences-123456789012/audiences/rentree-2026.csv"],
    )

    @field_validator("s3_uri")
    @classmethod
    def _s3_uri(cls, value: str) -> str:
        if not _S3_URI.match(value):
            raise ValueError("must look like s3://bucket/key.csv")
        return value

    @property
    def location(self) -> tuple[str, str]:
        """(bucket, key) of the CSV."""
        bucket, _, key = self.s3_uri.removeprefix("s3://").partition("/")
        return bucket, key


class CampaignRequest(_Contract):
    """Contract §2: the JSON body of a ``CampaignQueue`` message."""

    campaign_id: CampaignId = Field(
        description=(
            "Your identifier of the campaign, 1 to 64 letters, digits, '.', '_' or '-'. One "
            "recipient gets at most one SMS per campaign_id: publishing the same request again "
            "sends nobody a second SMS, and a refused campaign is fixed and published again "
            "under the same id. It is shown whole in reports, logs and metrics: never put "
            "personal data (a phone number) in it."
        ),
        examples=["soldes-hiver-2026"],
    )
    category: Category = Field(
        description=(
            "marketing: the STOP mention is added, and consent, opt-outs and the sending window "
            "apply. transactional or informational (an order, an appointment): exempt from all "
            "four, sent at once to whoever the request names."
        ),
        examples=["marketing"],
    )
    brand: Brand = Field(
        default=DEFAULT_BRAND,
        description=(
            "Whose opt-outs and consents apply, case-insensitive (Acme and acme are one brand), "
            "at most 64 characters, not starting with '*' or a blank. Default: 'default', the "
            "brand of consent records that name none."
        ),
        examples=["acme"],
    )
    language: Literal["fr", "en"] = Field(
        default="fr",
        description=(
            "Language of the STOP mention added to marketing SMS and of the answers to STOP and "
            "HELP replies. Default: fr."
        ),
        examples=["fr"],
    )
    body: str = Field(
        min_length=1,
        max_length=MAX_BODY_CHARS,
        description=(
            "The text, at most 1,600 characters; {name} placeholders are filled from each "
            "recipient's vars ({{ and }} are literal braces). Control characters and "
            "bidirectional overrides are refused. For marketing, the STOP mention (STOP au "
            "36111) is appended unless the text already says exactly that."
        ),
        examples=["Bonjour {first_name}, -20% ce week-end chez Acme !"],
    )
    origination_identity: str | None = Field(
        default=None,
        min_length=1,
        max_length=256,
        description=(
            "The sender: a phone number, short code, sender ID, pool ID or ARN of your End "
            "User Messaging account. Default: the stack's OriginationIdentity parameter (or "
            "AWS's choice when that is empty)."
        ),
        examples=["36111"],
    )
    stop_number: str | None = Field(
        default=None,
        pattern=r"^\+?[0-9]{3,15}$",
        description=(
            "The number printed in the STOP mention (STOP au 36111), 3 to 15 digits, an "
            "optional leading '+'. Required for marketing unless the stack has a StopNumber "
            "parameter; it must be that number or one of InboundBrands, so that replies to it "
            "reach the stack. Default: the stack's StopNumber."
        ),
        examples=["36111"],
    )
    max_segments: int | None = Field(
        default=None,
        ge=1,
        le=10,
        description=(
            "Most SMS parts (segments) a recipient's final text, placeholders filled and STOP "
            "mention added, may take: 1 to 10. A campaign that would need more is refused whole "
            "before anything is sent. Default: no limit (up to the body's own length)."
        ),
        examples=[2],
    )
    send_at: Instant | None = Field(
        default=None,
        description=(
            "When to start, as an ISO-8601 / RFC 3339 date-time string with an offset "
            "(2026-12-24T10:00:00+01:00 or ...Z), at most 366 days ahead. Default: at once. "
            "Marketing still waits for the sending window once that time comes."
        ),
        examples=["2026-12-24T10:00:00+01:00"],
    )
    recipients: list[str | Recipient] | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_INLINE_RECIPIENTS,
        description=(
            "The audience, inline: 1 to 10,000 phone strings or {phone, vars} objects. Give "
            "exactly one of recipients and audience; an SQS message is at most 256 KiB, so "
            "larger audiences go to S3 (audience)."
        ),
        examples=[[{"phone": "+33612345678", "vars": {"first_name": "Lea"}}, "+33698765432"]],
    )
    audience: Audience | None = Field(
        default=None,
        description=(
            "The audience, as a CSV in S3 (any size). Give exactly one of recipients and audience."
        ),
    )
    # Decide everything, send nothing: the report shows the estimate (contract §2, §6).
    dry_run: bool = Field(
        default=False,
        description=(
            "true: run the whole pipeline (validation, duplicates, opt-outs, consent, window, "
            "mention, segments) and send nothing; the report shows the estimate (who would "
            "receive it, segments, cost). The same campaign_id can then be published without "
            "dry_run and is sent for real. Default: false."
        ),
        examples=[True],
    )

    @field_validator("body")
    @classmethod
    def _template(cls, value: str) -> str:
        if (unsafe := first_unsafe(value)) is not None:
            raise ValueError(f"holds the control character {unsafe}: remove it")
        try:
            placeholders(value)
        except TemplateError as error:
            raise ValueError(str(error)) from None
        return value

    @field_validator("send_at")
    @classmethod
    def _not_too_far(cls, value: datetime | None) -> datetime | None:
        if value is not None and value > clock.now() + MAX_SEND_AHEAD:
            raise ValueError(f"is more than {MAX_SEND_AHEAD.days} days ahead")
        return value

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        if (self.recipients is None) == (self.audience is None):
            raise ValueError("give exactly one of recipients or audience")
        return self

    def inline_recipients(self) -> list[Recipient]:
        """Inline recipients, bare phone strings turned into objects."""
        return [
            Recipient(phone=item) if isinstance(item, str) else item
            for item in self.recipients or []
        ]


class ConsentRecord(_Contract):
    """Contract §3: the JSON body of a ``ConsentQueue`` message."""

    action: Literal["opt_in", "opt_out"] = Field(
        description=(
            "opt_in: the person agreed to receive marketing SMS of the brand. opt_out: they "
            "objected. The latest decision, by when the person acted, wins."
        ),
        examples=["opt_in"],
    )
    phone: str = Field(
        description=(
            "The person's phone number, in any common format: E.164 (+33612345678) or national "
            "(06 12 34 56 78, read as French). A number that cannot exist is refused."
        ),
        examples=["+33612345678"],
    )
    # None: an opt-out for every brand (never a phantom brand), an opt-in for the brand of
    # campaigns that name none ("default").
    brand: Brand | None = Field(
        default=None,
        description=(
            "The brand the decision is about, case-insensitive. Default (absent or null): an "
            "opt-out applies to every brand, an opt-in to the campaigns that name no brand "
            "('default')."
        ),
        examples=["acme"],
    )
    source: str = Field(
        min_length=1,
        max_length=512,
        description=(
            "Where the decision was captured (a form, a call, a shop), 1 to 512 characters: "
            "kept as evidence and shown by `python -m stopsms status PHONE`."
        ),
        examples=["web-form https://acme.example/newsletter"],
    )
    captured_at: Instant = Field(
        description=(
            "When the person acted, as an ISO-8601 / RFC 3339 date-time string with an offset, "
            "from 2000 on and at most an hour ahead of AWS's clock. An opt-in is relied on for "
            "the stack's RetentionDays (default 1,095) from this instant."
        ),
        examples=["2026-11-20T14:03:00+01:00"],
    )
    proof: dict[str, Any] = Field(
        default_factory=dict,
        description=(
            "Any JSON object that proves the decision (IP address, checkbox text, agent, "
            "recording id), kept as evidence with the record. Default: empty."
        ),
        examples=[{"ip": "203.0.113.7", "checkbox_text": "J'accepte les offres Acme par SMS"}],
    )

    @property
    def scope(self) -> str:
        """The scope the record applies to (see ``brand``)."""
        if self.brand is not None:
            return self.brand
        return EVERY_BRAND if self.action == "opt_out" else DEFAULT_BRAND

    @field_validator("phone", mode="before")  # before stripping: controls are refused
    @classmethod
    def _e164(cls, value: object) -> str:
        try:
            return normalize(value).e164
        except InvalidPhoneNumber as error:
            raise ValueError(f"not a valid phone number ({error.reason})") from None

    @field_validator("captured_at")
    @classmethod
    def _not_in_future(cls, value: datetime) -> datetime:
        return plausible(value, clock.now() + MAX_CLOCK_SKEW)


class InboundReply(_Contract):
    """Contract §4: the AWS End User Messaging SMS two-way payload."""

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True, defer_build=True)

    origination_number: str = Field(alias="originationNumber", min_length=1, max_length=64)
    destination_number: str = Field(alias="destinationNumber", min_length=1, max_length=64)
    message_keyword: str | None = Field(default=None, alias="messageKeyword")
    # No length limit: a STOP followed by a long text is still a STOP (stored truncated).
    message_body: str = Field(default="", alias="messageBody")
    inbound_message_id: str = Field(alias="inboundMessageId", min_length=1, max_length=256)
    previous_published_message_id: str | None = Field(
        default=None, alias="previousPublishedMessageId"
    )


class DeliveryEvent(_Contract):
    """Contract §7: an End User Messaging SMS delivery event, as its configuration set
    publishes it. Only what StopSMS reads is checked; the rest is ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True, defer_build=True)

    event_type: str = Field(alias="eventType", max_length=64)
    # Milliseconds since the epoch; bounded so that no event can make a total unstorable.
    event_timestamp: int = Field(alias="eventTimestamp", ge=0, le=10**14)
    is_final: bool = Field(alias="isFinal")
    message_id: str = Field(alias="messageId", min_length=1, max_length=256)
    message_status: str = Field(alias="messageStatus", pattern="^[A-Z][A-Z_]{0,63}$")
    message_status_description: str = Field(
        default="", alias="messageStatusDescription", max_length=1024
    )
    destination_phone_number: str | None = Field(
        default=None, alias="destinationPhoneNumber", max_length=64
    )
    iso_country_code: str | None = Field(default=None, alias="isoCountryCode", max_length=8)
    mcc: str | None = Field(default=None, max_length=8)
    mnc: str | None = Field(default=None, max_length=8)
    carrier_name: str | None = Field(default=None, alias="carrierName", max_length=256)
    message_type: str | None = Field(default=None, alias="messageType", max_length=32)
    context: dict[str, str] = Field(default_factory=dict)
    total_message_parts: int | None = Field(default=None, alias="totalMessageParts", ge=0, le=1_000)
    # Dollars for one SMS: finite, and far above any real price.
    total_message_price: float | None = Field(
        default=None, alias="totalMessagePrice", ge=0, le=1_000, allow_inf_nan=False
    )
    total_carrier_fee: float | None = Field(
        default=None, alias="totalCarrierFee", ge=0, le=1_000, allow_inf_nan=False
    )


def plausible(value: datetime, latest: datetime) -> datetime:
    """``value`` if it can be the instant of a consent or an opt-out, else ``ValueError``."""
    if value.year < EARLIEST_EVENT.year or value < EARLIEST_EVENT:
        raise ValueError(f"is before {EARLIEST_EVENT.year}: a placeholder, not a real date")
    if value > latest:
        raise ValueError("is in the future")
    return value


def describe(error: ValidationError, inside: str | None = None, tagged: bool = False) -> str:
    """One line naming each field at fault: ``recipients.0.phone: Field required``.

    For a message validated inside its AWS record, ``inside`` is the record's field that holds
    it (``body``) and ``tagged`` says a union's tag follows: both are dropped, so the publisher
    reads the contract's field names; a fault of the record itself keeps its own name.
    """
    parts = []
    for item in error.errors():
        loc = item["loc"]
        if inside is not None and loc[:1] == (inside,):
            loc = loc[2:] if tagged else loc[1:]
        where = ".".join(str(step) for step in loc) or "message"
        parts.append(f"{where}: {item['msg']}")
    return "; ".join(parts)


class DryRun(_Contract):
    """Internal: marks a send job of a dry run. ``run`` names the run (its records are kept
    under it, apart from any real send of the campaign); ``at`` is when the real campaign would
    start, the instant the sending window is judged at."""

    run: str = Field(pattern=r"^[0-9a-f]{1,32}$")
    at: Instant


class SendJob(_Contract):
    """Internal: one recipient of a campaign, as queued on ``SendQueue`` by the fan-out.

    It carries everything the sender needs, so sending never reads the campaign record.
    ``seq`` is the recipient's position in the audience: deterministic, so a slice fanned out
    twice yields the same jobs and the sender recognises them.
    """

    campaign_id: CampaignId
    seq: int = Field(ge=0)
    phone: str = Field(max_length=64)
    vars: dict[str, VarValue] = Field(default_factory=dict)
    category: Category
    brand: Brand = DEFAULT_BRAND
    language: Literal["fr", "en"] = "fr"
    body: str = Field(min_length=1, max_length=MAX_BODY_CHARS)
    stop_number: str | None = None
    origination_identity: str | None = None
    max_segments: int | None = None
    dry_run: DryRun | None = None

    @classmethod
    def for_recipient(
        cls,
        request: CampaignRequest,
        seq: int,
        recipient: Recipient,
        dry_run: DryRun | None = None,
    ) -> SendJob:
        return cls(
            campaign_id=request.campaign_id,
            seq=seq,
            phone=recipient.phone,
            vars=recipient.vars,
            category=request.category,
            brand=request.brand,
            language=request.language,
            body=request.body,
            stop_number=request.stop_number,
            origination_identity=request.origination_identity,
            max_segments=request.max_segments,
            dry_run=dry_run,
        )
