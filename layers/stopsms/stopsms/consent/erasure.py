"""A person's erasure request (GDPR art. 17): forget the number, keep honouring its opt-out.

What is erased and what is kept (a keyed hash of the number, an opt-out for every brand, the
skeleton of each evidence event, the delivery outcomes): docs/ARCHITECTURE.md, "Erasure".
The sender and the fan-out look the hash up beside the number, for marketing only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from stopsms import clock
from stopsms.aws.keyed_hash import PREFIX, erased_key, forget_key, keyed_hash
from stopsms.dal import campaigns, contacts, deferred, deliveries, evidence, receipts
from stopsms.dal.campaigns import CampaignStatus
from stopsms.dal.tables import GLOBAL_SCOPE
from stopsms.rules.phones import try_normalize
from stopsms.settings import Settings

__all__ = ["PREFIX", "Erasure", "erase", "erased_key", "forget_key", "same_request"]

ERASURE_SOURCE = "erasure-request"
ERASED_RECIPIENT = "erased"  # what a campaign request keeps of an erased recipient
# What an evidence event loses: the person's words, the proof, the numbers and message ids;
# and a reply flagged for review leaves the review list (nobody can act on it any more).
REDACTED = dict.fromkeys(("proof", "text", "inbound_message_id", "destination_number", "review"))


def _unlinkable(event_key: str, settings: Settings) -> str:
    """An event key that no longer leads back to the number: its id part may be a plain hash
    of data that held it (an import's ``sha256(source|phone|scope)``, a consent record's),
    which hashing every French mobile would reverse. The instant, which orders events, stays."""
    instant, _, event_id = event_key.partition("#")
    return f"{instant}#{keyed_hash(event_id, settings)[:32]}"


@dataclass
class Erasure:
    states: int = 0
    events: int = 0
    deliveries: int = 0
    campaigns: int = 0  # campaign requests and parked jobs that held the number
    erased_before: datetime | None = None  # the first erasure of this number, if any

    @property
    def found(self) -> int:
        return self.states + self.events + self.deliveries + self.campaigns


def erase(e164: str, settings: Settings) -> Erasure:
    """Erase one number; running it twice is harmless (there is nothing left the second time)."""
    stand_in = erased_key(e164, settings)
    done = Erasure()
    now = clock.now()
    before = [s for s in contacts.state_of(stand_in) if s.source == ERASURE_SOURCE]
    done.erased_before = before[0].status_at if before else None
    # First the opt-out under the hash: from here on the number cannot receive marketing,
    # even if the rest is interrupted and run again.
    if not before:
        contacts.apply(stand_in, GLOBAL_SCOPE, contacts.OPTED_OUT, now, source=ERASURE_SOURCE)
    done.states = contacts.forget(e164)
    done.events = evidence.move(e164, stand_in, lambda key: _unlinkable(key, settings), **REDACTED)
    deferred.drop(deferred.mirror_key(e164))  # a copy to the AWS opt-out list still due
    done.deliveries = deliveries.move_claims(e164, stand_in)
    # After the claims: a receipt writes a destination's failures only with its claim, so none
    # can come back under the number once its claims have moved.
    receipts.forget_failing(e164)
    done.campaigns = _redact_requests(e164, stand_in)
    return done


# An S3 campaign in these states has not queued its whole file yet.
_WAITING = (
    CampaignStatus.CHECKING,
    CampaignStatus.DEFERRED,
    CampaignStatus.FANNING_OUT,
)


def _redact_requests(e164: str, stand_in: str) -> int:
    """Replace the number in the requests StopSMS keeps (inline recipients of campaigns, jobs
    parked for their window) by ``ERASED_RECIPIENT``, which no SMS can be sent to: a campaign
    still waiting then records that recipient ``invalid_number``, and never writes the number.
    An S3 file is not ours to edit: a campaign that has not queued all of it yet is given the
    stand-in, and its fan-out queues that row as erased. A scan of the campaigns table,
    acceptable for a rare request."""
    changed = 0
    for item in campaigns.with_requests():
        request = dict(item.request or {})
        if request.get("audience") and item.status in _WAITING:
            campaigns.add_erased(item, stand_in)
            changed += 1
            continue
        found = False
        if _same(request.get("phone"), e164):  # a parked send job
            request["phone"], found = ERASED_RECIPIENT, True
        recipients = request.get("recipients")
        if isinstance(recipients, list):
            for index, recipient in enumerate(recipients):
                phone = recipient.get("phone") if isinstance(recipient, dict) else recipient
                if _same(phone, e164):
                    recipients[index] = {"phone": ERASED_RECIPIENT, "vars": {}}
                    found = True
        if found:
            campaigns.replace_request(item, request)
            changed += 1
    return changed


def same_request(recorded: dict[str, Any], request: dict[str, Any]) -> bool:
    """Whether ``request`` is the one ``recorded`` (a redelivery, a publisher's retry), once
    the recipients erased since it was recorded are set aside."""
    if recorded == request:
        return True
    mine, theirs = recorded.get("recipients"), request.get("recipients")
    if not isinstance(mine, list) or not isinstance(theirs, list) or len(mine) != len(theirs):
        return False
    erased = {"phone": ERASED_RECIPIENT, "vars": {}}
    return {**recorded, "recipients": None} == {**request, "recipients": None} and all(
        a in (b, erased) for a, b in zip(mine, theirs, strict=True)
    )


def _same(phone: object, e164: str) -> bool:
    parsed = try_normalize(phone) if isinstance(phone, str) else None
    return parsed is not None and parsed.e164 == e164
