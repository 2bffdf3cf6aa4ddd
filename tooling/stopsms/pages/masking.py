"""Recipients' numbers in free text, masked as in logs (``rules.phones``): on the campaign page
every number but the sender's own; on the person page the person's own number, quoted."""

from __future__ import annotations

import re
from collections.abc import Sequence

from stopsms.errors import InvalidPhoneNumber
from stopsms.rules.phones import mask, normalize, redact

# A run of digits that could be a number (as ``rules.phones.redact`` finds them).
_DIGITS = re.compile(r"\+?\d(?:(?:[^\w,;:|]|_){0,4}\d){5,}")


def redact_except(text: str, keep: Sequence[str]) -> str:
    """``text`` with every run of digits masked as in logs, but the sender's own numbers."""
    if not keep:
        return redact(text)
    first, *rest = keep
    return first.join(redact_except(piece, rest) for piece in text.split(first))


def hide_own(text: str, phone: str) -> str:
    """``text`` with the person's own number masked wherever it is quoted (the heading shows
    it once); other digits (an IP address, a message id, a date) are their data, kept."""

    def masked(match: re.Match[str]) -> str:
        found = match.group()
        try:
            same = normalize(found.strip()).e164 == phone
        except InvalidPhoneNumber:
            same = False
        return mask(found) if same else found

    return _DIGITS.sub(masked, text)
