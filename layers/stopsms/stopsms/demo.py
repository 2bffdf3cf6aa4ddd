"""The scripted demonstration behind ``make demo``.

It walks through the decisions StopSMS takes for a French marketing campaign: numbers
normalised, replies classified, the STOP mention fitted into the segment budget and the
sending window of recipients in Paris and overseas.
"""

from __future__ import annotations

from datetime import UTC, datetime

from stopsms.errors import InvalidPhoneNumber
from stopsms.keywords import classify
from stopsms.mention import compose
from stopsms.phones import normalize
from stopsms.window import SendingWindow, is_open, next_open

NUMBERS = [
    "06 12 34 56 78",
    "+33 (0)7 81 23 45 67",
    "0690 12 34 56",
    "0262 12 34 56",
    "01 23 45 67 89",
    "12",
]
REPLIES = [
    "Stop",
    "STOP 36111",
    "Arrêt svp",
    "stop merci 🙏",
    "weekend",
    "don't stop",
    "START",
    "Aide ?",
]
BODY = "Bonjour Léa, l’hiver arrive : -20 % sur tout le rayon « montagne » ce week-end… À bientôt !"


def _title(text: str) -> None:
    print(f"\n== {text}")


def run() -> int:
    _title("Phone numbers -> E.164 (default region FR, overseas resolved)")
    for raw in NUMBERS:
        try:
            phone = normalize(raw)
            print(f"  {raw!r:26} -> {phone.masked:16} {phone.region}  {phone.time_zones[0]}")
        except InvalidPhoneNumber as error:
            print(f"  {raw!r:26} -> refused: {error.reason}")

    _title("Replies -> intent")
    for text in REPLIES:
        result = classify(text)
        print(f"  {text!r:18} -> {result.intent or 'unclassified'}")

    _title("Marketing text: STOP mention, segments, smart encoding")
    for smart in (False, True):
        composed = compose(BODY, marketing=True, stop_number="36111", smart_encoding=smart)
        print(
            f"  smart encoding {'on ' if smart else 'off'}: {composed.encoding}, "
            f"{composed.segments_before} -> {composed.segments} segment(s) with the mention"
        )
    print(f"  final text: {composed.text}")

    _title("Sending window (Mon-Sat 08:00-20:00, recipient's own time zone)")
    window = SendingWindow()
    at = datetime(2026, 12, 5, 19, 30, tzinfo=UTC)  # Saturday 20:30 in Paris
    for raw in ("06 12 34 56 78", "0690 12 34 56"):
        phone = normalize(raw)
        state = "open" if is_open(window, at, phone) else "closed"
        print(
            f"  {phone.masked:16} at {at:%a %H:%M} UTC: {state}, "
            f"next opening {next_open(window, at, phone):%a %d %b %H:%M} UTC"
        )
    print("\nDemo finished.")
    return 0
