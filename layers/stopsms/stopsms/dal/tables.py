"""PynamoDB models of the StopSMS tables (key schemas mirror ``template.yaml``).

Table names are not known at import time: ``bind(settings)`` points every model at the
deployed table once per process (and again whenever tests change the names).
"""

from __future__ import annotations

import copy
from typing import Any

from pynamodb.attributes import (
    BooleanAttribute,
    JSONAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, KeysOnlyProjection
from pynamodb.models import Model

from stopsms.dal.number_items import states_of
from stopsms.rules.scope_states import ScopeState
from stopsms.settings import Settings

GLOBAL_SCOPE = "*"  # the scope of opt-outs that apply to every brand (STOPALL)


class ContactState(Model):
    """Current opt-in / opt-out state of a phone for a brand, or for every brand."""

    class Meta:
        table_name = "ContactStateTable"

    phone = UnicodeAttribute(hash_key=True)
    scope = UnicodeAttribute(range_key=True)
    status = UnicodeAttribute()  # "opted_in" | "opted_out"
    status_at = UTCDateTimeAttribute()  # when the person acted: orders out-of-order events
    source = UnicodeAttribute()
    evidence_key = UnicodeAttribute(null=True)
    updated_at = UTCDateTimeAttribute()
    # When the decision was first recorded, by StopSMS or the system a stop list came from
    # (an import keeps it); None means ``updated_at``.
    recorded_at = UTCDateTimeAttribute(null=True)
    # The latest opt-out ever recorded here, kept by a later opt-in: when that opt-in lapses
    # (retention), this opt-out, whose proof never expires, is in force again.
    opted_out_at = UTCDateTimeAttribute(null=True)
    # When the proof of this opt-in expires (its evidence's TTL): the opt-in lapses then at the
    # latest, even if RetentionDays was raised since it was written.
    proof_expires_at = UTCDateTimeAttribute(null=True)


class NumberItem(Model):
    """A number's item: every scope's state of the phone (``dal.number_items``), read back in
    ``states``. Beside the per-scope ``ContactState`` items of the previous version (until
    migrated) and of erased numbers' stand-ins."""

    class Meta:
        table_name = "ContactStateTable"

    phone = UnicodeAttribute(hash_key=True)
    scope = UnicodeAttribute(range_key=True)  # always ``number_items.NUMBER_ITEM``

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.states: dict[str, ScopeState] = {}

    @classmethod
    def from_raw_data(cls, data: dict[str, Any]) -> NumberItem:
        item = super().from_raw_data(data)
        item.states = states_of(data)
        return item


class ReviewIndex(GlobalSecondaryIndex["Evidence"]):  # type: ignore[no-untyped-call]
    """Sparse: the replies waiting for a human decision (``review`` set), oldest first."""

    class Meta:
        index_name = "ReviewIndex"
        projection = AllProjection()

    review = UnicodeAttribute(hash_key=True)
    event_key = UnicodeAttribute(range_key=True)


class Evidence(Model):
    """One event of a number's history: opt-in, opt-out, reply. Append-only, but for the
    triage of a reply flagged for human review (``review``, ``review_reason``)."""

    class Meta:
        table_name = "EvidenceTable"

    phone = UnicodeAttribute(hash_key=True)
    event_key = UnicodeAttribute(range_key=True)  # "<captured_at ISO UTC>#<event id>"
    kind = UnicodeAttribute()  # opt_in | opt_out | help | reply | send_blocked
    brand = UnicodeAttribute()
    source = UnicodeAttribute()
    captured_at = UTCDateTimeAttribute()
    received_at = UTCDateTimeAttribute(null=True)  # when AWS received it, if not captured_at
    recorded_at = UTCDateTimeAttribute()
    proof = JSONAttribute(null=True)
    text = UnicodeAttribute(null=True)
    campaign_id = UnicodeAttribute(null=True)
    inbound_message_id = UnicodeAttribute(null=True)
    destination_number = UnicodeAttribute(null=True)
    expires_at = TTLAttribute(null=True)
    review = UnicodeAttribute(null=True)  # "open" while a human should look at this reply
    review_reason = UnicodeAttribute(null=True)

    review_index = ReviewIndex()


class DeferredIndex(GlobalSecondaryIndex["Campaign"]):  # type: ignore[no-untyped-call]
    """Sparse: what waits, by kind (``campaign``, ``job``, ``mirror``) and resume instant."""

    class Meta:
        index_name = "DeferredIndex"
        projection = KeysOnlyProjection()

    deferred = UnicodeAttribute(hash_key=True)
    resume_at = UnicodeAttribute(range_key=True)


class Campaign(Model):
    """A campaign: the validated request, fan-out progress and the STOP replies it drew."""

    class Meta:
        table_name = "CampaignsTable"

    campaign_id = UnicodeAttribute(hash_key=True)
    request = JSONAttribute(null=True)  # None: cancelled before its request arrived
    status = UnicodeAttribute()  # checking | deferred | fanning_out | queued | refused | cancelled
    audience = NumberAttribute(null=True)  # known once checked (S3) or at once (inline)
    queued = NumberAttribute(default=0)  # recipients queued (rows counted, while checking)
    cursor = NumberAttribute(null=True)  # byte offset of the next S3 slice
    lines = NumberAttribute(null=True)  # while checking: the line at the cursor
    problems = JSONAttribute(null=True)  # while checking: what is wrong with the file so far
    waiting_for = UnicodeAttribute(null=True)  # deferred: "send_at" or "window"
    unsent = NumberAttribute(null=True)  # recipients never queued (the file changed...)
    advanced_by = UnicodeAttribute(null=True)  # SQS message id that moved the cursor
    header = JSONAttribute(null=True)  # CSV header of an S3 audience
    opt_outs = NumberAttribute(default=0)
    deferred = UnicodeAttribute(null=True)  # sparse DeferredIndex hash key
    resume_at = UnicodeAttribute(null=True)
    created_at = UTCDateTimeAttribute()
    reason = UnicodeAttribute(null=True)  # why it was refused, or why some were never queued
    source_etag = UnicodeAttribute(null=True)  # ETag of the S3 audience being fanned out
    # Stand-ins (erasure.erased_key) of numbers erased while this S3 campaign waited: the
    # fan-out queues them as erased recipients, so their number is never written again.
    erased = UnicodeSetAttribute(null=True)
    cancelled_at = UTCDateTimeAttribute(null=True)  # when its cancellation was recorded
    paused_at = UTCDateTimeAttribute(null=True)  # set while it is paused
    # When the last pause or resume applied was sent (ms since the epoch): an older control
    # SQS delivers late, or again, changes nothing.
    control_sent = NumberAttribute(null=True)
    dry_run = UnicodeAttribute(null=True)  # a dry run's name (its records: deliveries.dry_key)
    request_message = UnicodeAttribute(null=True)  # the SQS message id of the request recorded
    request_sent = NumberAttribute(null=True)
    # The deployment's rules when the campaign was recorded (consent policy, sending window,
    # holidays, retention): what its report tells an auditor, even after they change.
    policy = JSONAttribute(null=True)  # and when it was sent (ms since the epoch)

    deferred_index = DeferredIndex()


class ParkedIndex(GlobalSecondaryIndex["Parked"]):  # type: ignore[no-untyped-call]
    """``DeferredIndex`` as the parked items see it."""

    class Meta:
        index_name = "DeferredIndex"
        projection = KeysOnlyProjection()

    deferred = UnicodeAttribute(hash_key=True)
    resume_at = UnicodeAttribute(range_key=True)


class Parked(Model):
    """Work waiting in ``DeferredIndex`` beside the deferred campaigns: a send job until its
    recipient's window opens (``job#<campaign>#<seq>``), or a change to the AWS opt-out list
    to try again (``mirror#<phone>``). Kept in ``CampaignsTable`` under keys no campaign id can
    take (``#`` is not allowed in one), with a campaign's attribute names: an erasure's scan
    of waiting requests finds a parked job's number too."""

    class Meta:
        table_name = "CampaignsTable"

    campaign_id = UnicodeAttribute(hash_key=True)  # the key: "job#..." or "mirror#..."
    request = JSONAttribute()  # the send job, or {"phone", "attempts", "action"}
    status = UnicodeAttribute(default="deferred")
    deferred = UnicodeAttribute(null=True)  # its kind while it waits in DeferredIndex
    resume_at = UnicodeAttribute(null=True)
    created_at = UTCDateTimeAttribute()

    deferred_index = ParkedIndex()


class StopNumberUse(Model):
    """The brands whose campaigns printed a number as their stop number: a STOP to that
    number that answers no known SMS stops them (``brands``). One item per number, kept in
    ``CampaignsTable`` under a key no campaign id can take (``#`` is not allowed in one)."""

    class Meta:
        table_name = "CampaignsTable"

    campaign_id = UnicodeAttribute(hash_key=True)  # "stop#<number key>"
    brands = UnicodeSetAttribute()


class AnswerSent(Model):
    """The campaign an automatic answer (confirmation, HELP) was about (``dal.answers``), in
    ``CampaignsTable`` under ``answer#<its MessageId>``."""

    class Meta:
        table_name = "CampaignsTable"

    campaign_id = UnicodeAttribute(hash_key=True)  # "answer#<MessageId>"
    answered = UnicodeAttribute()
    expires_at = TTLAttribute()


class MessageIdIndex(GlobalSecondaryIndex["Delivery"]):  # type: ignore[no-untyped-call]
    class Meta:
        index_name = "MessageIdIndex"
        projection = KeysOnlyProjection()

    message_id = UnicodeAttribute(hash_key=True)


class Delivery(Model):
    """Per campaign: ``p#<e164>`` claims a phone (exactly once), ``r#<seq>`` records the
    outcome of a recipient that never got a claim (invalid number, duplicate)."""

    class Meta:
        table_name = "DeliveriesTable"

    campaign_id = UnicodeAttribute(hash_key=True)
    recipient = UnicodeAttribute(range_key=True)
    seq = NumberAttribute()
    status = UnicodeAttribute()  # sending | sent | suppressed | failed
    reason = UnicodeAttribute(null=True)
    message_id = UnicodeAttribute(null=True)
    segments = NumberAttribute(null=True)
    claimed_at = UTCDateTimeAttribute(null=True)
    updated_at = UTCDateTimeAttribute()
    expires_at = TTLAttribute(null=True)
    # Delivery receipts (contract §7, ``rules.receipts``): the deciding event and what it said.
    receipt_status = UnicodeAttribute(null=True)  # its messageStatus
    receipt_final = BooleanAttribute(null=True)
    receipt_at = NumberAttribute(null=True)  # its eventTimestamp, ms
    receipt_description = UnicodeAttribute(null=True)
    receipt_changes = NumberAttribute(null=True)  # changes applied: the optimistic lock
    price_micros = NumberAttribute(null=True)  # totalMessagePrice, millionths of USD
    fee_micros = NumberAttribute(null=True)  # totalCarrierFee, millionths of USD
    carrier = UnicodeAttribute(null=True)  # "mcc-mnc name"
    country = UnicodeAttribute(null=True)
    parts = NumberAttribute(null=True)
    # A dry run's outcome (``d#<run>#…``): when a recipient outside its window would be sent,
    # and a few rendered texts for the report's samples.
    resume_at = UnicodeAttribute(null=True)
    text = UnicodeAttribute(null=True)
    masked = UnicodeAttribute(null=True)  # the sample's number, masked (``Phone.masked``)

    message_id_index = MessageIdIndex()


class DeliveryTotal(Model):
    """A campaign's running total of one delivery bucket (``t#status#delivered``,
    ``t#status#blocked``…) or of its cost (``t#cost``, millionths of USD), beside its claims: a
    report reads a handful of these, never the claims. Written only in the transactions that
    change a message."""

    class Meta:
        table_name = "DeliveriesTable"

    campaign_id = UnicodeAttribute(hash_key=True)
    recipient = UnicodeAttribute(range_key=True)  # "t#status#<bucket>" or "t#cost"
    value = NumberAttribute(default=0)


class FailingIndex(GlobalSecondaryIndex["FailingDestination"]):  # type: ignore[no-untyped-call]
    """The destinations that keep failing (sparse: only theirs carry ``failing_list``)."""

    class Meta:
        index_name = "FailingIndex"
        projection = AllProjection()

    failing_list = UnicodeAttribute(hash_key=True)
    failing_since = UnicodeAttribute(range_key=True)


class FailingDestination(Model):
    """A destination whose SMS keep failing: the campaigns whose SMS to it ended in a final
    failure, each within ``rules.receipts.FAILING_WINDOW`` of the one before (the item expires
    that long after the last). Keyed by its claims' recipient key (``failing#p#<e164>``), so
    an erased number's (``failing#p#erased#…``) holds no number; erasure deletes the other."""

    class Meta:
        table_name = "DeliveriesTable"

    campaign_id = UnicodeAttribute(hash_key=True)  # "failing#<claim recipient key>"
    recipient = UnicodeAttribute(range_key=True)  # "campaigns"
    campaigns = UnicodeSetAttribute(null=True)
    last_status = UnicodeAttribute(null=True)  # the latest failure's messageStatus
    changes = NumberAttribute(null=True)  # the optimistic lock, as on a claim
    expires_at = TTLAttribute(null=True)
    # Set while it keeps failing (``FailingIndex``): the list's name, and since when (ISO UTC).
    failing_list = UnicodeAttribute(null=True)
    failing_since = UnicodeAttribute(null=True)

    failing_index = FailingIndex()


def copy_with_key[M: Model](
    item: M, hash_key: str, range_key: str | None = None, **changes: Any
) -> M:
    """A new, unsaved ``item`` under another key with every attribute its model declares, so
    an attribute added to the model later is carried too; ``changes`` replace values (None
    drops one). A name the model does not declare is a ``ValueError``."""
    values = {
        name: copy.deepcopy(getattr(item, name))
        for name, attribute in item.get_attributes().items()
        if not (attribute.is_hash_key or attribute.is_range_key)
    }
    return type(item)(hash_key, range_key, **(values | changes))


MODELS: tuple[type[Model], ...] = (
    ContactState,
    NumberItem,
    Evidence,
    Campaign,
    Parked,
    StopNumberUse,
    AnswerSent,
    Delivery,
    DeliveryTotal,
    FailingDestination,
)
# Each model's table by its template name, before ``bind`` points it at the deployed one: a
# model sharing a table (claims, totals, failures) cannot be left on the template's name.
TEMPLATE_TABLE = {model: model.Meta.table_name for model in MODELS}


def bind(settings: Settings) -> None:
    """Point each model at its deployed table; cheap when nothing changed."""
    deployed = {
        "ContactStateTable": settings.contact_state_table,
        "EvidenceTable": settings.evidence_table,
        "CampaignsTable": settings.campaigns_table,
        "DeliveriesTable": settings.deliveries_table,
    }
    for model in MODELS:
        name = deployed[TEMPLATE_TABLE[model]]
        if model.Meta.table_name != name:
            model.Meta.table_name = name
            model._connection = None  # the cached connection knows the old name


def reset_connections() -> None:
    """Forget cached connections (tests and the local stack switch endpoints)."""
    for model in MODELS:
        model._connection = None
