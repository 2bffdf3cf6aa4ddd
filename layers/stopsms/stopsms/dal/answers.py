"""Which campaign an automatic answer (an opt-out confirmation, a HELP answer) was about: a
reply to that answer concerns the same brand, in the same language (``stopsms.rules.brands``), as a
reply to the campaign itself would. Written by the inbound function once an answer is sent,
read when a reply's ``previousPublishedMessageId`` is none of our campaigns' SMS.

One item per answer in ``CampaignsTable``, under a key no campaign id can take (``#`` is not
allowed in one); it holds no phone number and expires with the replies' evidence."""

from __future__ import annotations

from datetime import datetime

from pynamodb.exceptions import DoesNotExist

from stopsms.dal.tables import AnswerSent

PREFIX = "answer#"


def record(message_id: str, campaign_id: str, expires_at: datetime) -> None:
    """The answer sent as ``message_id`` was about ``campaign_id``."""
    AnswerSent(PREFIX + message_id, answered=campaign_id, expires_at=expires_at).save()


def campaign_answered(message_id: str) -> str | None:
    """The campaign the answer sent as ``message_id`` was about; None when it is no answer
    of ours, or was about no single campaign."""
    try:
        return str(AnswerSent.get(PREFIX + message_id).answered)
    except DoesNotExist:
        return None
