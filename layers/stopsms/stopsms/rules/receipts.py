"""Delivery receipts (contract §7): which event decides a message's delivery state, and what
a change of state does to its campaign's totals. Pure: no AWS call.

End User Messaging reports each message's fate as events that arrive up to 72 hours late, more
than once and out of order. The state of a message is its highest-ranking event: a final event
outranks every non-final one, then the later ``eventTimestamp`` wins, then (same time, both
final) the status name, so that any order of arrival ends in the same state. A message's cost is
the highest price any of its events reported, counted once.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

__all__ = [
    "AWAITING",
    "BLOCKED_OR_SPAM_ALARM",
    "DELIVERED",
    "FAILING_WINDOW",
    "KEEPS_FAILING",
    "RATE_MIN_FINAL",
    "REPUTATION",
    "Change",
    "Folded",
    "Receipt",
    "Standing",
    "blocked_or_spam_rate",
    "bucket",
    "failed",
    "failure_step",
    "fold",
    "keeps_failing",
    "receive",
    "to_micros",
]

DELIVERED_STATUSES = frozenset({"DELIVERED", "SUCCESSFUL"})
DELIVERED = "delivered"
AWAITING = "awaiting"
MICROS = 1_000_000  # costs are kept in millionths of a US dollar: sums stay exact
# A destination keeps failing when its SMS of this many campaigns ended in a final failure,
# each within the window of the one before: a dead or recycled number, or one a carrier
# blocks, that the audience lists should drop (consent given by a number's former owner is
# not consent). Delivered SMS in between do not reset it: reading the count for every
# delivered SMS would double the receipts' reads.
KEEPS_FAILING = 3
FAILING_WINDOW = timedelta(days=30)
# Carriers that block a sender's SMS or flag them as spam soon refuse all of them: a
# campaign's share of these among its final states is its reputation with them.
REPUTATION = frozenset({"blocked", "carrier_blocked", "spam"})
# Below this many final states a campaign's rate says more about chance than about its texts
# (1 blocked of the first 3 is not 33 %).
RATE_MIN_FINAL = 100
BLOCKED_OR_SPAM_ALARM = 2.0  # percent: the threshold of template.yaml's two rate alarms


@dataclass(frozen=True)
class Standing:
    """What is known of one message: its deciding event, and the cost counted for it."""

    status: str  # the event's messageStatus, as AWS writes it (upper case)
    final: bool
    at: int  # the event's eventTimestamp, milliseconds since the epoch
    price_micros: int = 0  # the highest totalMessagePrice reported
    fee_micros: int = 0  # the highest totalCarrierFee reported

    @property
    def rank(self) -> tuple[bool, int, str]:
        return (self.final, self.at, self.status)

    @property
    def cost_micros(self) -> int:
        return self.price_micros + self.fee_micros


@dataclass(frozen=True)
class Receipt:
    """One delivery event, reduced to what decides and what is recorded."""

    message_id: str
    status: str
    final: bool
    at: int
    price_micros: int = 0
    fee_micros: int = 0
    # What it says beside: recorded with the state it decides, never compared.
    description: str = field(default="", compare=False)
    carrier: str | None = field(default=None, compare=False)  # "mcc-mnc name"
    country: str | None = field(default=None, compare=False)
    parts: int | None = field(default=None, compare=False)

    @property
    def standing(self) -> Standing:
        return Standing(self.status, self.final, self.at, self.price_micros, self.fee_micros)


def bucket(standing: Standing | None) -> str:
    """Where a message counts in its campaign's report: ``delivered``, ``awaiting``, or the
    lower-case status of its final failure (``carrier_unreachable``, ``blocked``…)."""
    if standing is None or not standing.final:
        return AWAITING
    if standing.status in DELIVERED_STATUSES:
        return DELIVERED
    return standing.status.lower()


def failed(standing: Standing | None) -> bool:
    """Whether a message has reached a final failure."""
    return bucket(standing) not in (DELIVERED, AWAITING)


def blocked_or_spam_rate(buckets: Mapping[str, int], final: int) -> float | None:
    """The percentage of a campaign's SMS in a final state that carriers blocked or flagged as
    spam (``buckets``: its totals per bucket; ``final``: their sum); None below
    ``RATE_MIN_FINAL`` final states."""
    if final < RATE_MIN_FINAL:
        return None
    return 100 * sum(buckets.get(name, 0) for name in REPUTATION) / final


def failure_step(change: Change) -> int:
    """What a message's change does to its destination's failing campaigns: +1 when it has
    just failed for good, -1 when a delivery replaced its failure, 0 otherwise (a failure
    replaced by another)."""
    return sum(step for name, step in change.moves.items() if name != DELIVERED)


def keeps_failing(before: frozenset[str], after: frozenset[str]) -> bool:
    """Whether these failures make the destination one that keeps failing: true once, for
    the failures that reach ``KEEPS_FAILING`` campaigns."""
    return len(before) < KEEPS_FAILING <= len(after)


@dataclass(frozen=True)
class Change:
    """A message's new standing, and what its campaign's totals move by."""

    standing: Standing
    moves: Counter[str]  # bucket -> +1 / -1 (``awaiting`` is never stored: sent minus the rest)
    cost_micros: int  # added to the campaign's cost

    def billed_only(self) -> Change:
        """The change for an SMS the campaign does not count as sent (its send went out but
        its answer was lost: ``failed``, ``unconfirmed``): AWS bills it, so its cost counts;
        its delivery does not, since ``awaiting`` is ``sent`` minus the buckets (contract §6)."""
        return Change(self.standing, Counter(), self.cost_micros)


def receive(current: Standing | None, receipt: Receipt) -> Change | None:
    """What ``receipt`` changes for a message whose standing is ``current`` (None: no event
    yet); None when nothing changes (a duplicate, an earlier event, no higher price)."""
    event = receipt.standing
    outranks = current is None or event.rank > current.rank
    price = max(event.price_micros, current.price_micros if current else 0)
    fee = max(event.fee_micros, current.fee_micros if current else 0)
    if (
        not outranks
        and current is not None
        and (price, fee)
        == (
            current.price_micros,
            current.fee_micros,
        )
    ):
        return None
    deciding = event if outranks or current is None else current
    return _change(current, Standing(deciding.status, deciding.final, deciding.at, price, fee))


@dataclass(frozen=True)
class Folded:
    """A message's events of one batch taken together: one change to write."""

    change: Change | None  # None: none of them changed anything
    applied: int  # how many changed something
    decided_by: Receipt | None  # the event that now decides, if one of these does


def fold(current: Standing | None, receipts: list[Receipt]) -> Folded:
    """Every event of one message over its standing, in rank order (the result does not
    depend on their order of arrival)."""
    standing, applied, decided_by = current, 0, None
    for receipt in sorted(receipts, key=lambda r: r.standing.rank):
        change = receive(standing, receipt)
        if change is None:
            continue
        applied += 1
        if change.standing.rank == receipt.standing.rank:
            decided_by = receipt
        standing = change.standing
    if standing is None or standing == current:
        return Folded(None, applied, None)
    return Folded(_change(current, standing), applied, decided_by)


def _change(before: Standing | None, after: Standing) -> Change:
    moves: Counter[str] = Counter()
    if bucket(before) != bucket(after):
        for name, step in ((bucket(before), -1), (bucket(after), 1)):
            if name != AWAITING:
                moves[name] += step
    return Change(after, moves, after.cost_micros - (before.cost_micros if before else 0))


def to_micros(*amounts: float | None) -> int:
    """Dollars as AWS reports them (``totalMessagePrice``, ``totalCarrierFee``) in millionths."""
    return sum(round((amount or 0) * MICROS) for amount in amounts)
