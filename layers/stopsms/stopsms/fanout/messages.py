"""The fan-out's own messages on ``CampaignQueue``, beside the contract's campaign requests
(told apart by their top-level key): ``{"continuation": {...}}`` goes on with a large
audience from where a slice stopped, ``{"release": {...}}`` fans out a deferred campaign whose
time has come (sent by the scheduler)."""

from __future__ import annotations

import json

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from stopsms.errors import StopSmsError
from stopsms.models import CampaignId, CampaignRequest, describe

__all__ = ["CampaignRefused", "Continuation", "Message", "Release", "parse"]


class CampaignRefused(StopSmsError):
    """The message is not a usable campaign request: it goes to the DLQ with this reason."""


class _Internal(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Continuation(_Internal):
    campaign_id: CampaignId
    offset: int = Field(ge=0)
    seq: int = Field(ge=0)


class Release(_Internal):
    campaign_id: CampaignId


class _ContinuationMessage(_Internal):
    continuation: Continuation


class _ReleaseMessage(_Internal):
    release: Release


Message = CampaignRequest | Continuation | Release


def parse(body: str) -> Message:
    """The message in a ``CampaignQueue`` body; CampaignRefused names what is wrong."""
    try:
        data = json.loads(body)
    except ValueError as error:
        raise CampaignRefused(f"message: not valid JSON ({error})") from None
    try:
        if isinstance(data, dict) and "campaign_id" not in data:
            if "continuation" in data:
                return _ContinuationMessage.model_validate(data).continuation
            if "release" in data:
                return _ReleaseMessage.model_validate(data).release
        return CampaignRequest.model_validate(data)
    except ValidationError as error:
        raise CampaignRefused(describe(error)) from None


def continuation_body(campaign_id: str, offset: int, seq: int) -> str:
    return _ContinuationMessage(
        continuation=Continuation(campaign_id=campaign_id, offset=offset, seq=seq)
    ).model_dump_json()


def release_body(campaign_id: str) -> str:
    return _ReleaseMessage(release=Release(campaign_id=campaign_id)).model_dump_json()
