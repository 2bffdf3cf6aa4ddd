"""Delivery receipts in ``DeliveriesTable`` (``rules.receipts`` decides what changes): each
message's standing on its claim item, and its campaign's totals beside the claims
(``t#status#<bucket>``, ``t#final``: their sum, ``t#cost``). A message and the totals it
moves are written in one transaction, so the totals always agree with the messages, whatever
fails between them."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

from pynamodb.connection import Connection
from pynamodb.exceptions import TransactWriteError
from pynamodb.expressions.update import Action
from pynamodb.transactions import TransactWrite

from stopsms.dal.batch import batch_get
from stopsms.dal.conditions import unchanged_since
from stopsms.dal.deliveries import TOTALS, DeliveryStatus, claim_key
from stopsms.dal.tables import Delivery, DeliveryTotal, FailingDestination
from stopsms.rules.receipts import REPUTATION, Change, Receipt, Standing

__all__ = [
    "Failing",
    "Key",
    "Read",
    "Reputation",
    "Totals",
    "Update",
    "claim_of_message",
    "claims",
    "failing_campaigns",
    "failing_of",
    "forget_failing",
    "keeps_failing_list",
    "read",
    "recipient_of",
    "standing",
    "totals",
    "write",
]

Key = tuple[str, str]  # (campaign id, "p#<e164>")
STATUS = TOTALS + "status#"  # a bucket's total: t#status#delivered, t#status#blocked...
COST = TOTALS + "cost"  # the campaign's cost, millionths of USD
FINAL = TOTALS + "final"  # its SMS in a final state: the buckets' sum, read without knowing them
FAILING = "failing#"  # + a claim's recipient key: a destination's failing campaigns
FAILING_RANGE = "campaigns"
KEEPS_FAILING_LIST = "keeps-failing"  # FailingIndex's one key: the list of them
TRANSACTION_ITEMS = 100  # TransactWriteItems' limit
MAX_DESCRIPTION = 256


def claims(keys: Iterable[Key]) -> dict[Key, Delivery]:
    """The claim items at ``keys``, read 100 a request (consistent: a receipt written a moment
    ago by another batch must be seen)."""
    return read(keys).claims


@dataclass(frozen=True)
class Reputation:
    """A campaign's standing with the carriers, as read: the rate alarm's base and share."""

    final: int  # its SMS in a final state
    buckets: dict[str, int]  # its blocked and spam buckets (``rules.receipts.REPUTATION``)


@dataclass(frozen=True)
class Read:
    """What one read of a batch brings."""

    claims: dict[Key, Delivery]
    failing: dict[str, FailingDestination]  # recipient key -> its failing campaigns
    reputations: dict[str, Reputation]  # campaign id -> its standing with the carriers


def read(
    keys: Iterable[Key], failing_of: Iterable[str] = (), reputation_of: Iterable[str] = ()
) -> Read:
    """The claims at ``keys``, the failing campaigns of the recipients ``failing_of`` and the
    reputation of the campaigns ``reputation_of``, in the same requests (100 keys each)."""
    campaigns = list(dict.fromkeys(reputation_of))
    found = batch_get(
        {
            Delivery: keys,
            FailingDestination: [(FAILING + recipient, FAILING_RANGE) for recipient in failing_of],
            DeliveryTotal: [
                (campaign_id, total)
                for campaign_id in campaigns
                for total in (FINAL, *(STATUS + name for name in sorted(REPUTATION)))
            ],
        }
    )
    claimed = {(str(k[0]), str(k[1])): item for k, item in found[Delivery].items()}
    failing = {
        str(k[0]).removeprefix(FAILING): item for k, item in found[FailingDestination].items()
    }
    values = {(str(k[0]), str(k[1])): int(item.value) for k, item in found[DeliveryTotal].items()}
    reputations = {
        campaign_id: Reputation(
            values.get((campaign_id, FINAL), 0),
            {name: values.get((campaign_id, STATUS + name), 0) for name in REPUTATION},
        )
        for campaign_id in campaigns
    }
    return Read(claimed, failing, reputations)


def failing_campaigns(item: FailingDestination | None, now: datetime) -> frozenset[str]:
    """The campaigns a destination failed in lately (none once its window has passed: DynamoDB
    deletes expired items only within days)."""
    if item is None or item.expires_at is None or item.expires_at <= now:
        return frozenset()
    return frozenset(item.campaigns or ())


def failing_of(e164: str) -> FailingDestination | None:
    """A number's failing campaigns, if any (a query: the operator's and the auditor's roles
    read this table by query only)."""
    return next(iter(FailingDestination.query(FAILING + claim_key(e164))), None)


def keeps_failing_list() -> Iterator[FailingDestination]:
    """The destinations that keep failing, the longest-failing first (``FailingIndex``)."""
    return iter(FailingDestination.failing_index.query(KEEPS_FAILING_LIST))


def recipient_of(item: FailingDestination) -> str:
    """The claims' recipient key a failing destination is kept under (``p#<e164>``…)."""
    return str(item.campaign_id).removeprefix(FAILING)


def forget_failing(e164: str) -> None:
    """Erasure: the number's failing campaigns go (a stand-in's are kept, they hold no number)."""
    FailingDestination(FAILING + claim_key(e164), FAILING_RANGE).delete()


def claim_of_message(message_id: str) -> Key | None:
    """The claim whose SMS had this ``MessageId`` (``MessageIdIndex``): for an event whose
    context or number does not lead to it (an erased number, a context lost)."""
    for item in Delivery.message_id_index.query(message_id, limit=1):
        return str(item.campaign_id), str(item.recipient)
    return None


def standing(item: Delivery) -> Standing | None:
    """What the claim records of its message's receipts (None: none yet)."""
    if item.receipt_status is None:
        return None
    return Standing(
        str(item.receipt_status),
        bool(item.receipt_final),
        int(item.receipt_at or 0),
        int(item.price_micros or 0),
        int(item.fee_micros or 0),
    )


@dataclass(frozen=True)
class Update:
    """One message's change, computed from its claim as read (``changes``: its lock)."""

    key: Key
    message_id: str
    changes: int
    change: Change
    decided_by: Receipt | None  # the event that now decides it; None: only its cost rose
    adopts: bool = False  # the claim has no message id yet (its send's answer was lost)
    failing: Failing | None = None  # its destination's failing campaigns, when it failed


@dataclass(frozen=True)
class Failing:
    """A destination's failing campaigns, as they become with this failure."""

    recipient: str  # the claims' recipient key
    changes: int  # the lock, as read
    campaigns: frozenset[str]
    status: str
    expires_at: datetime
    since: str | None  # since when it keeps failing (ISO UTC); None: it does not (yet)


def write(updates: Sequence[Update]) -> list[Update]:
    """Write the updates with the totals they move, in transactions of at most 100 items.

    Returns the updates not written because a message changed since it was read (another
    batch got there first): read them again and recompute."""
    refused: list[Update] = []
    for chunk in _chunks(updates):
        try:
            with TransactWrite(connection=Connection()) as transaction:
                destinations = {u.failing.recipient: u.failing for u in chunk if u.failing}
                for update in chunk:
                    _change_claim(transaction, update)
                for failing in destinations.values():  # an item once a transaction
                    _change_failing(transaction, failing)
                for (campaign_id, key), step in _moves(chunk).items():
                    total = DeliveryTotal(campaign_id, key)
                    transaction.update(total, actions=[DeliveryTotal.value.add(step)])
        except TransactWriteError as error:
            if not error.cancellation_reasons:
                raise
            refused.extend(chunk)  # nothing of the chunk was written
    return refused


@dataclass(frozen=True)
class Totals:
    """A campaign's delivery totals: messages per bucket, and its cost."""

    buckets: dict[str, int]  # delivered, blocked, carrier_unreachable... (never awaiting)
    cost_micros: int


def totals(campaign_id: str) -> Totals:
    """A campaign's delivery totals: one query of a handful of items, whatever the audience."""
    buckets: dict[str, int] = {}
    cost = 0
    for item in DeliveryTotal.query(campaign_id, DeliveryTotal.recipient.startswith(TOTALS)):
        if item.recipient == COST:
            cost = int(item.value)
        elif item.recipient.startswith(STATUS) and int(item.value):
            buckets[item.recipient.removeprefix(STATUS)] = int(item.value)
    return Totals(buckets, cost)


def _change_claim(transaction: TransactWrite, update: Update) -> None:
    new = update.change.standing
    actions: list[Action] = [
        Delivery.receipt_status.set(new.status),
        Delivery.receipt_final.set(new.final),
        Delivery.receipt_at.set(new.at),
        Delivery.price_micros.set(new.price_micros),
        Delivery.fee_micros.set(new.fee_micros),
        Delivery.receipt_changes.set(update.changes + 1),
    ]
    if (event := update.decided_by) is not None:
        actions.append(Delivery.receipt_description.set(event.description[:MAX_DESCRIPTION]))
        if event.carrier is not None:
            actions.append(Delivery.carrier.set(event.carrier))
        if event.country is not None:
            actions.append(Delivery.country.set(event.country))
        if event.parts is not None:
            actions.append(Delivery.parts.set(event.parts))
    unchanged = unchanged_since(Delivery.receipt_changes, update.changes)
    if update.adopts:
        actions.append(Delivery.message_id.set(update.message_id))
        ours = Delivery.message_id.does_not_exist() & (Delivery.status == DeliveryStatus.FAILED)
    else:
        ours = Delivery.message_id == update.message_id
    transaction.update(Delivery(*update.key), actions=actions, condition=ours & unchanged)


def _change_failing(transaction: TransactWrite, failing: Failing) -> None:
    unchanged = unchanged_since(FailingDestination.changes, failing.changes)
    item = FailingDestination(FAILING + failing.recipient, FAILING_RANGE)
    if not failing.campaigns:  # its only failure was delivered after all
        transaction.delete(item, condition=unchanged)
        return
    actions: list[Action] = [
        FailingDestination.campaigns.set(set(failing.campaigns)),
        FailingDestination.last_status.set(failing.status),
        FailingDestination.changes.set(failing.changes + 1),
        FailingDestination.expires_at.set(failing.expires_at),
    ]
    if failing.since is not None:
        actions.append(FailingDestination.failing_list.set(KEEPS_FAILING_LIST))
        actions.append(FailingDestination.failing_since.set(failing.since))
    else:  # its window passed: it starts again, off the list
        actions.append(FailingDestination.failing_list.remove())
        actions.append(FailingDestination.failing_since.remove())
    transaction.update(item, actions=actions, condition=unchanged)


def _moves(chunk: Sequence[Update]) -> Counter[tuple[str, str]]:
    moves: Counter[tuple[str, str]] = Counter()
    for update in chunk:
        campaign_id = update.key[0]
        for name, step in update.change.moves.items():
            moves[campaign_id, STATUS + name] += step
            moves[campaign_id, FINAL] += step  # awaiting is no bucket: the buckets' sum
        moves[campaign_id, COST] += update.change.cost_micros
    return Counter({key: step for key, step in moves.items() if step})


def _chunks(updates: Sequence[Update]) -> Iterable[list[Update]]:
    """Transactions of at most 100 items: the claims, and the totals they may move."""
    chunk: list[Update] = []
    totals: set[tuple[str, str]] = set()
    for update in updates:
        touched = _totals_of(update)
        if chunk and len(chunk) + 1 + len(totals | touched) > TRANSACTION_ITEMS:
            yield chunk
            chunk, totals = [], set()
        chunk.append(update)
        totals |= touched
    if chunk:
        yield chunk


def _totals_of(update: Update) -> set[tuple[str, str]]:
    """The items beside its claim an update may write: totals, its destination's failures."""
    campaign_id = update.key[0]
    touched = {(campaign_id, STATUS + name) for name in update.change.moves}
    touched |= {(campaign_id, COST), (campaign_id, FINAL)}
    if update.failing is not None:
        touched.add((FAILING + update.failing.recipient, FAILING_RANGE))
    return touched
