"""What the phone networks answer, in the emulator: the delivery events of each SMS the fake
End User Messaging endpoint sends, as a configuration set publishes them on the stack's
``DeliveryEventsTopic`` (contract §7).

Each SMS gets a fate drawn from ``Mix`` (seeded by its message id: the same run tells the same
story): a ``PENDING`` event, then a final one after a short delay — or none, for the SMS still
awaiting when the run ends. Some events are published twice, and the final one may be
published before the pending one, as the real service does.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any

FATES = ("DELIVERED", "CARRIER_UNREACHABLE", "BLOCKED", "SPAM", "AWAITING")
CARRIERS = (("208", "01", "Orange France"), ("208", "10", "SFR"), ("208", "20", "Bouygues"))


@dataclass(frozen=True)
class Mix:
    """The share of each fate, and how the events misbehave. The prices are illustrative (a
    French SMS part in USD, 2025), not AWS's price list."""

    fates: dict[str, float] = field(
        default_factory=lambda: {
            "DELIVERED": 0.90,
            "CARRIER_UNREACHABLE": 0.04,
            "BLOCKED": 0.02,
            "SPAM": 0.02,
            "AWAITING": 0.02,
        }
    )
    duplicates: float = 0.2  # share of events published twice
    reorder: float = 0.3  # share of SMS whose final event is published before the pending
    delay_s: tuple[float, float] = (0.05, 0.6)
    price_per_part: float = 0.0736
    carrier_fee: float = 0.003


@dataclass(order=True)
class _Due:
    at: float
    seq: int
    event: dict[str, Any] = field(compare=False)


class Carriers:
    """Holds the events not yet published; ``due()`` hands over those whose time has come."""

    def __init__(self, mix: Mix | None = None) -> None:
        self.mix = mix or Mix()
        self._due: list[_Due] = []
        self._seq = 0
        self._lock = threading.Lock()

    def sent(self, request: dict[str, Any], message_id: str) -> None:
        """An SMS left: schedule its events."""
        rng = random.Random(message_id)  # noqa: S311 - a story, not a secret
        fate = rng.choices(list(self.mix.fates), weights=list(self.mix.fates.values()))[0]
        mcc, mnc, name = rng.choice(CARRIERS)
        parts = 1 + len(str(request.get("MessageBody", ""))) // 161
        now_ms = int(time.time() * 1000)
        base = {
            "eventVersion": "1.0",
            "originationPhoneNumber": str(request.get("OriginationIdentity") or "+33700000000"),
            "destinationPhoneNumber": request["DestinationPhoneNumber"],
            "isoCountryCode": "FR",
            "isInternationalSend": False,
            "mcc": mcc,
            "mnc": mnc,
            "carrierName": name,
            "messageId": message_id,
            "messageRequestTimestamp": now_ms,
            "messageEncoding": "GSM",
            "messageType": request.get("MessageType", "TRANSACTIONAL"),
            "context": dict(request.get("Context") or {}),
            "totalMessageParts": parts,
            "totalMessagePrice": round(self.mix.price_per_part * parts, 5),
            "totalCarrierFee": self.mix.carrier_fee,
        }
        delay = rng.uniform(*self.mix.delay_s)
        pending = _event(base, "PENDING", now_ms + 50, "Message is pending delivery")
        schedule = [(0.0, pending)]
        if fate != "AWAITING":
            final = _event(base, fate, now_ms + int(delay * 1000), _DESCRIPTIONS[fate])
            if rng.random() < self.mix.reorder:  # the final published first
                schedule = [(0.0, final), (delay, pending)]
            else:
                schedule = [(0.0, pending), (delay, final)]
        start = time.monotonic()
        with self._lock:
            for after, event in schedule:
                copies = 2 if rng.random() < self.mix.duplicates else 1
                for copy in range(copies):
                    self._seq += 1
                    self._due.append(_Due(start + after + copy * 0.05, self._seq, event))

    def due(self) -> list[dict[str, Any]]:
        """The events whose time has come, in the order they are published."""
        now = time.monotonic()
        with self._lock:
            ready = sorted(d for d in self._due if d.at <= now)
            self._due = [d for d in self._due if d.at > now]
        return [d.event for d in ready]

    @property
    def waiting(self) -> int:
        with self._lock:
            return len(self._due)


_DESCRIPTIONS = {
    "DELIVERED": "Message has been accepted by phone",
    "CARRIER_UNREACHABLE": "The destination carrier could not be reached",
    "BLOCKED": "The destination carrier blocked the message",
    "SPAM": "The destination carrier flagged the message as spam",
}


def _event(base: dict[str, Any], status: str, at_ms: int, description: str) -> dict[str, Any]:
    return {
        **base,
        "eventType": f"TEXT_{status}",
        "eventTimestamp": at_ms,
        "isFinal": status != "PENDING",
        "messageStatus": status,
        "messageStatusDescription": description,
    }
