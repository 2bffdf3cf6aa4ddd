"""Characters no SMS body, variable or phone number may hold. Pure.

Control characters (NUL, BEL, ESC...) have no place in a text message: carriers drop or
mangle them, and a NUL cuts the text in some systems. Bidirectional formatting characters
(overrides, embeddings, isolates, and the LRM / RLM / ALM marks) make a text display in
another order than it is stored: "Trojan Source" spoofing of a link or a number. Line
breaks and tabs are ordinary text.
"""

from __future__ import annotations

import re
from typing import Final

__all__ = ["first_unsafe"]

_UNSAFE: Final = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]"
)


def first_unsafe(text: str) -> str | None:
    """The first forbidden character of ``text`` as ``U+XXXX``, or None when there is none."""
    match = _UNSAFE.search(text)
    return None if match is None else f"U+{ord(match.group()):04X}"
