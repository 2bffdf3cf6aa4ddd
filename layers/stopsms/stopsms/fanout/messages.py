"""The fan-out's own messages on ``CampaignQueue``, beside the contract's campaign requests
and controls (told apart by their top-level key): ``{"continuation": {...}}`` goes on
with a large audience from where a slice stopped, ``{"release": {...}}`` fans out a deferred
campaign whose time has come (sent by the scheduler), ``{"unpark": {...}}`` releases a resumed
campaign's parked work once more; ``{"action": "cancel" | "pause" | "resume", "campaign_id":
...}`` controls a campaign (contract §2)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from aws_lambda_powertools.utilities.parser.models import SqsRecordModel
from pydantic import BaseModel, ConfigDict, Discriminator, Field, Json, Tag, ValidationError

from stopsms.errors import StopSmsError
from stopsms.models import CampaignId, CampaignRequest, describe

__all__ = [
    "CampaignMessage",
    "CampaignRefused",
    "Continuation",
    "Control",
    "Message",
    "Release",
    "Unpark",
    "parse",
]


class CampaignRefused(StopSmsError):
    """The message is not a usable campaign request: it goes to the DLQ with this reason."""


class _Internal(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Continuation(_Internal):
    campaign_id: CampaignId
    offset: int = Field(ge=0)
    seq: int = Field(ge=0)
    run: str | None = None  # the dry run it continues (None: the real fan-out)


class Release(_Internal):
    campaign_id: CampaignId


class Unpark(_Internal):
    campaign_id: CampaignId
    sweep: int = Field(default=0, ge=0)


class Control(_Internal):
    """Contract §2: ``cancel`` (no SMS of the campaign leaves once it is recorded), ``pause``
    (no SMS leaves until ``resume``; its jobs wait, parked)."""

    action: Literal["cancel", "pause", "resume"] = Field(
        description=(
            "cancel: no SMS of the campaign leaves once this is recorded, for good. pause: no "
            "SMS leaves until a resume; the campaign's jobs wait, parked. resume: the parked "
            "jobs and the rest of the fan-out go on, each recipient decided again (opt-outs, "
            "window), none sent twice. Pauses and resumes apply in the order they were sent."
        ),
        examples=["cancel", "pause", "resume"],
    )
    campaign_id: CampaignId = Field(
        description=(
            "The campaign_id of the campaign request to control. A cancellation may arrive "
            "before its campaign (which then arrives cancelled); pausing a cancelled or unknown "
            "campaign, or resuming an unknown one, is refused."
        ),
        examples=["soldes-hiver-2026"],
    )


class _ContinuationMessage(_Internal):
    continuation: Continuation


class _ReleaseMessage(_Internal):
    release: Release


class _UnparkMessage(_Internal):
    unpark: Unpark


Message = CampaignRequest | Control | Continuation | Release | Unpark


def _kind(body: Any) -> str:
    """The tag of a body: its top-level key; anything else is read as a campaign request."""
    if isinstance(body, Mapping) and "action" in body:
        return "action"
    if isinstance(body, Mapping) and "campaign_id" not in body:
        for kind in ("continuation", "release", "unpark"):
            if kind in body:
                return kind
    return "campaign"


_Body = Annotated[
    Annotated[CampaignRequest, Tag("campaign")]
    | Annotated[Control, Tag("action")]
    | Annotated[_ContinuationMessage, Tag("continuation")]
    | Annotated[_ReleaseMessage, Tag("release")]
    | Annotated[_UnparkMessage, Tag("unpark")],
    Discriminator(_kind),
]


class CampaignMessage(SqsRecordModel):
    """A ``CampaignQueue`` record: Powertools' SQS record whose body is one of these."""

    body: Json[_Body]


def parse(record: Mapping[str, Any]) -> Message:
    """The message in a ``CampaignQueue`` record; CampaignRefused names what is wrong."""
    try:
        body = CampaignMessage.model_validate(record).body
    except ValidationError as error:
        raise CampaignRefused(describe(error, inside="body", tagged=True)) from None
    if isinstance(body, _ContinuationMessage):
        return body.continuation
    if isinstance(body, _ReleaseMessage):
        return body.release
    if isinstance(body, _UnparkMessage):
        return body.unpark
    return body


def continuation_body(campaign_id: str, offset: int, seq: int, run: str | None = None) -> str:
    continuation = Continuation(campaign_id=campaign_id, offset=offset, seq=seq, run=run)
    return _ContinuationMessage(continuation=continuation).model_dump_json(exclude_none=True)


def unpark_body(campaign_id: str, sweep: int) -> str:
    return _UnparkMessage(unpark=Unpark(campaign_id=campaign_id, sweep=sweep)).model_dump_json()


def control_body(action: str, campaign_id: str) -> str:
    return Control.model_validate({"action": action, "campaign_id": campaign_id}).model_dump_json()


def release_body(campaign_id: str) -> str:
    return _ReleaseMessage(release=Release(campaign_id=campaign_id)).model_dump_json()
