"""Classify an inbound SMS reply as opt-out (STOP), opt-in (START) or help.

Rule
----
1. Normalise the text: Unicode NFKD (so ``ＳＴＯＰ`` is ``STOP`` and ``Ê`` is ``E`` + accent),
   drop combining marks (accents, emoji variation selectors), casefold, turn every character
   that is not a letter or a digit (punctuation, quotes, emoji, symbols, hyphen, apostrophe,
   control characters) into a space, collapse whitespace and strip.
2. The keyword must be the WHOLE FIRST WORD of the normalised text, or its first two words for
   two-word keywords (``opt out``, ``stop all``, ``stop tout``, ``stop sms``...). The longest
   keyword wins, so ``stop all`` is a STOPALL-type opt-out while ``stop merci`` is a plain STOP.
3. Everything after the keyword is ignored: ``Stop merci``, ``STOP 36111``, ``stop svp!!``,
   ``STOP 🙏`` and ``Stop, je ne veux plus`` are all opt-outs. Whatever precedes the first word
   and is not a letter or digit is ignored too: ``  «STOP»``, ``🛑 stop``, ``...stop``.

Trade-off: matching the first word only gives false negatives on free-text sentences
(``please stop``, ``merci de ne plus m'écrire``) but avoids false positives such as ``I won't
stop buying`` or ``don't stop``; matching whole words never matches a substring (``WEEKEND`` is
not END, ``STANDARD`` is not TD, ``STOP36111`` glued together is not STOP). Replies that are not
classified are never dropped: the caller keeps them for the operator, who can act on them by
hand. Conversely a sentence that merely starts with a keyword (``Cancel my order``, ``End of
story``) is an opt-out: on a STOP channel the safe side is to stop sending.

Decisions
---------
* French verb forms are listed explicitly, never matched by prefix: ``ARRETE``, ``ARRETER``,
  ``ARRETEZ``, ``STOPPE``, ``STOPPER``, ``STOPPEZ`` are opt-outs (the obvious "stop it"
  imperatives and infinitives); ``STOPPAIT`` or ``ARRETONS`` are not.
* ``T.D.`` normalises to the two words ``t d`` and is accepted as TD (nobody writes "T D" by
  chance as the start of a reply).
* ``STOP TOUT``/``STOP ALL`` opt out of every brand even when followed by more words, so ``Stop
  tout de suite`` (``stop right now``) has scope ALL: over-opting-out is the compliant side.
* Opt-in extras beyond AWS's START/UNSTOP: ``OPT-IN`` (also ``opt in``) and ``OPTIN``.
  ``OUI``/``YES`` are deliberately NOT opt-ins: they answer too many unrelated questions.
* Help: HELP, AIDE, INFO, INFOS.
* Empty or ``None`` text, or text without letters or digits, is ``Classification(None, None,
  BRAND)``.

The tables below are written as operators know the keywords (accents omitted, since matching
ignores them: ``ARRÊT`` is ``ARRET``); the canonical keyword reported is the table's spelling.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType


class Intent(StrEnum):
    """What the sender asks for."""

    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"
    HELP = "help"


class Scope(StrEnum):
    """Which brands an opt-out applies to."""

    BRAND = "brand"  # the brand owning the number the sender replied to
    ALL = "all"  # every brand (STOPALL-type keywords)


@dataclass(frozen=True)
class Classification:
    """Result of :func:`classify`: ``intent`` and ``keyword`` are ``None`` when unrecognised."""

    intent: Intent | None
    keyword: str | None
    scope: Scope = Scope.BRAND

    @property
    def is_actionable(self) -> bool:
        """True when the reply triggers an automatic action (opt-out, opt-in or help reply)."""
        return self.intent is not None


# Every keyword AWS End User Messaging SMS requires, kept verbatim so an audit can tick them off.
AWS_REQUIRED_OPT_OUT: frozenset[str] = frozenset(
    {"ARRET", "CANCEL", "END", "OPT-OUT", "OPTOUT", "QUIT", "REMOVE", "STOP", "TD", "UNSUBSCRIBE"}
)

# Opt-out of the brand of the number replied to.
OPT_OUT_KEYWORDS: frozenset[str] = AWS_REQUIRED_OPT_OUT | frozenset(
    {
        "REVOKE",
        "UNSUB",
        "STOP SMS",
        "T.D.",
        # French forms people really type (accents are ignored by the matching).
        "ARRETE",
        "ARRETER",
        "ARRETEZ",
        "STOPPE",
        "STOPPER",
        "STOPPEZ",
        "DESABONNE",
        "DESABONNER",
        "DESABONNEZ",
        "DESABONNEZ-MOI",
        "DESABONNEMENT",
        "DESINSCRIRE",
        "DESINSCRIVEZ",
        "DESINSCRIVEZ-MOI",
        "DESINSCRIPTION",
    }
)

# Opt-out of every brand.
OPT_OUT_ALL_KEYWORDS: frozenset[str] = frozenset({"STOPALL", "STOP ALL", "STOP TOUT"})

OPT_IN_KEYWORDS: frozenset[str] = frozenset({"START", "UNSTOP", "OPT-IN", "OPTIN"})

HELP_KEYWORDS: frozenset[str] = frozenset({"HELP", "AIDE", "INFO", "INFOS"})

# Longest keyword, in normalised words; matching looks at no more than this many first words.
MAX_KEYWORD_WORDS = 2


def normalise(text: str) -> str:
    """Return ``text`` folded for matching: no accents, casefolded, only words of letters/digits.

    >>> normalise("  «Arrêtez-moi ça» 🛑 ")
    'arretez moi ca'
    """
    # Casefold between two NFKD passes: each can produce what the other folds ("ẞ" -> "ss",
    # "ℌ" -> "H"), and a single pass would make normalise() not idempotent.
    decomposed = unicodedata.normalize("NFKD", unicodedata.normalize("NFKD", text).casefold())
    return " ".join("".join(_fold_char(c) for c in decomposed).split())


def _fold_char(char: str) -> str:
    category = unicodedata.category(char)[0]
    if category == "M":
        # Every mark goes, not only accents: emoji variation selectors (U+FE0F, category Mn
        # but combining class 0) would otherwise glue "❤️STOP" into one word.
        return ""
    # Letters and digits stay; everything else (punctuation, symbols, emoji, separators,
    # format characters) splits words.
    return char if category in "LN" else " "


def _build_table() -> Mapping[str, Classification]:
    """Map each normalised keyword phrase to its classification, refusing ambiguous tables."""
    groups: Iterable[tuple[frozenset[str], Intent, Scope]] = (
        (OPT_OUT_KEYWORDS, Intent.OPT_OUT, Scope.BRAND),
        (OPT_OUT_ALL_KEYWORDS, Intent.OPT_OUT, Scope.ALL),
        (OPT_IN_KEYWORDS, Intent.OPT_IN, Scope.BRAND),
        (HELP_KEYWORDS, Intent.HELP, Scope.BRAND),
    )
    table: dict[str, Classification] = {}
    for keywords, intent, scope in groups:
        for keyword in sorted(keywords):
            phrase = normalise(keyword)
            canonical = _canonical(keyword)
            previous = table.get(phrase)
            if previous is not None and previous.keyword != canonical:
                raise ValueError(f"keyword {keyword!r} clashes with {previous.keyword!r}")
            if not 1 <= len(phrase.split()) <= MAX_KEYWORD_WORDS:
                raise ValueError(f"keyword {keyword!r} must have 1 to {MAX_KEYWORD_WORDS} words")
            table[phrase] = Classification(intent, canonical, scope)
    return MappingProxyType(table)


def _canonical(keyword: str) -> str:
    # Dotted spellings are aliases of the plain keyword operators search for ("T.D." -> "TD").
    return keyword.replace(".", "")


KEYWORD_TABLE: Mapping[str, Classification] = _build_table()
"""Normalised phrase (``"opt out"``, ``"stop"``...) -> classification; read-only."""

UNCLASSIFIED = Classification(None, None, Scope.BRAND)


def classify(text: str | None) -> Classification:
    """Classify an inbound reply by its first one or two words (see the module docstring)."""
    if not text:
        return UNCLASSIFIED
    words = normalise(text).split(" ")
    for count in range(MAX_KEYWORD_WORDS, 0, -1):
        if len(words) >= count:
            match = KEYWORD_TABLE.get(" ".join(words[:count]))
            if match is not None:
                return match
    return UNCLASSIFIED
