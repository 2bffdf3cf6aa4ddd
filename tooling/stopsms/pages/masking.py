"""Recipients' numbers in free text, masked as in logs (``rules.phones``): on the campaign page
every number but the sender's own; on the person page the person's own number, quoted."""

from __future__ import annotations

import re
from collections.abc import Sequence

import phonenumbers

from stopsms.errors import InvalidPhoneNumber
from stopsms.rules.phones import mask, normalize, redact

# A run of digits that could be a number (as ``rules.phones.redact`` finds them).
_DIGITS = re.compile(r"\+?\d(?:(?:[^\w,;:|]|_){0,4}\d){5,}")


def redact_except(text: str, keep: Sequence[str]) -> str:
    """``text`` with every run of digits masked as in logs, but the sender's own numbers
    (compared digit for digit: a recipient's number that merely contains one is masked)."""
    kept = {digits for digits in map(_digits, keep) if digits}

    def masked(match: re.Match[str]) -> str:
        found = match.group()
        return found if _digits(found) in kept else redact(found)

    return _DIGITS.sub(masked, text)


def hide_own(text: str, phone: str) -> str:
    """``text`` with the person's own number masked wherever it is quoted (the heading shows
    it once); other digits (an IP address, a message id, a date) are their data, kept. A run
    of digits that holds the number with more around it ("06 12 00 00 77 - 2e fois") is
    masked whole: over-masking a reply is safe, showing the number is not."""
    national = _national(phone)

    def masked(match: re.Match[str]) -> str:
        found = match.group()
        try:
            same = normalize(found.strip()).e164 == phone
        except InvalidPhoneNumber:
            same = False
        if same or (national and national in _digits(found)):
            return mask(found)
        return found

    return _DIGITS.sub(masked, text)


def _digits(text: str) -> str:
    return "".join(str(int(c)) for c in text if c.isdecimal())  # full-width digits as ASCII


def _national(phone: str) -> str:
    """The number without its country code (``612000077`` for +33612000077), as it is
    written in every national format."""
    try:
        return str(phonenumbers.parse(phone).national_number)
    except phonenumbers.NumberParseException:
        return ""
