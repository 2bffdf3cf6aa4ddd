"""Classify an inbound SMS reply as opt-out (STOP), opt-in (START) or help.

A reply is read in two steps, the first that matches wins. The first-word rule looks its whole
first word (or first two) up in :data:`KEYWORD_TABLE`: the only way to an opt-in or a help
answer. The anywhere rule, for a reply of at most :data:`MAX_AUTO_WORDS` words, finds a strong
opt-out word or an objection phrase in any clause ("Merci de ne plus m'envoyer de SMS"),
unless a guard says otherwise (a negation, a compound, another meaning). What may still be an
opt-out is flagged for a human (:func:`review_reason`). The rules, their guards and every
decision with its reason: docs/KEYWORDS.md.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property
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

# French opt-out forms people really type (accents are ignored by the matching); the
# numbers declare them as keywords too (``python -m stopsms doctor``).
FRENCH_OPT_OUT_FORMS: tuple[str, ...] = (
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
)

# Opt-out of the brand of the number replied to.
OPT_OUT_KEYWORDS: frozenset[str] = (
    AWS_REQUIRED_OPT_OUT
    | frozenset({"REVOKE", "UNSUB", "STOP SMS", "T.D."})
    | frozenset(FRENCH_OPT_OUT_FORMS)
)

# Opt-out of every brand.
OPT_OUT_ALL_KEYWORDS: frozenset[str] = frozenset({"STOPALL", "STOP ALL", "STOP TOUT"})

OPT_IN_KEYWORDS: frozenset[str] = frozenset({"START", "UNSTOP", "OPT-IN", "OPTIN"})

HELP_KEYWORDS: frozenset[str] = frozenset({"HELP", "AIDE", "INFO", "INFOS"})

# Weak opt-out keywords: opt-outs as the first word only (docs/KEYWORDS.md).
WEAK_OPT_OUT_KEYWORDS: frozenset[str] = frozenset(
    {"CANCEL", "END", "QUIT", "REMOVE", "REVOKE", "TD", "T.D."}
)

# Longest keyword, in normalised words; matching looks at no more than this many first words.
MAX_KEYWORD_WORDS = 2

# Longest reply, in normalised words, that the anywhere rule may turn into an opt-out.
MAX_AUTO_WORDS = 25

# Keyword reported for an opt-out read from an objection phrase rather than a keyword.
OBJECTION = "objection"


def fold_words(text: str) -> str:
    """Return ``text`` folded for matching: no accents, casefolded, only words of letters/digits.

    >>> fold_words("  «Arrêtez-moi ça» 🛑 ")
    'arretez moi ca'
    """
    return " ".join("".join(_word_char(c) for c in _fold(text)).split())


def _fold(text: str) -> str:
    """Accents and marks dropped, casefolded; punctuation kept (it delimits clauses)."""
    # Casefold between two NFKD passes: each can produce what the other folds ("ẞ" -> "ss",
    # "ℌ" -> "H"), and a single pass would make fold_words() not idempotent.
    decomposed = unicodedata.normalize("NFKD", unicodedata.normalize("NFKD", text).casefold())
    # Every mark goes, not only accents: emoji variation selectors (U+FE0F, category Mn but
    # combining class 0) would otherwise glue "❤️STOP" into one word. Invisible characters go
    # too, so that they neither split a word nor hide one ("S\u200bT\u200bO\u200bP", "ST\u00adOP"):
    # format characters (category Cf: zero-width space/joiner/non-joiner, word joiner, soft
    # hyphen, BOM, bidi marks, tags) and the blank Hangul fillers (letters that render as
    # nothing). Dropped, not turned into spaces: they are never typed to separate words, they
    # come from copy-paste, keyboards and from people hiding a word from filters.
    return "".join(c for c in decomposed if not _invisible(c))


def _invisible(char: str) -> bool:
    return (
        unicodedata.category(char)[0] == "M"
        or unicodedata.category(char) == "Cf"
        or (char in _BLANK_LETTERS)
    )


# Hangul fillers: category Lo, yet they display as nothing (U+3164 folds to U+1160 under NFKD).
_BLANK_LETTERS = frozenset("\u115f\u1160\u3164\uffa0")


def _word_char(char: str) -> str:
    # Letters and digits stay; everything else (punctuation, symbols, emoji, separators)
    # splits words.
    return char if unicodedata.category(char)[0] in "LN" else " "


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
            phrase = fold_words(keyword)
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


# --- reading the text ------------------------------------------------------------------------

# Every dash people or their keyboards type, after NFKD: hyphen-minus, Armenian hyphen, U+2010
# hyphen (U+2011 non-breaking hyphen folds to it), figure dash, en dash, em dash, horizontal
# bar, hyphen bullet, minus sign, two- and three-em dashes, small em dash. (Fullwidth and small
# hyphen-minus fold to "-"; the soft hyphen is invisible and dropped by _fold.)
_DASHES = "\\-\u058a\u2010-\u2015\u2043\u2212\u2e3a\u2e3b\ufe58"

# S, T, O, P each alone, separated by 1 to 3 dots/spaces/dashes/underscores/stars/slashes, not
# glued to a letter or digit on either side. Runs on folded (lowercase) text. 0 may stand for
# the O, as in a glued word (see _read_word).
_SEP = rf"[\s._*·/{_DASHES}]{{1,3}}"
_SPELLED_STOP = re.compile(rf"(?<![^\W_])s+{_SEP}t+{_SEP}[o0]+{_SEP}p+(?![^\W_])")

# Clause boundaries: sentence punctuation, new lines, and a run of dashes of any kind with
# white space (or the start or end of the text) on BOTH sides: "Non – stop", "Non - stop".
# A dash glued to a word on either side is a hyphen, whatever its length: "non-stop",
# "Non–stop", "Non—stop" (phones and smart keyboards turn "-" or "--" into en/em dashes),
# "désinscrivez-moi". The apostrophe never breaks a clause.
_CLAUSE_BREAK = re.compile(
    rf"[.!?;:,\n\r\v\f\x85\u2028\u2029\u00a1\u00bf]|(?<!\S)[{_DASHES}]+(?!\S)"
)

# Characters standing for Latin letters inside a word that has letters: digits ("st0p", "5TOP",
# "d3sabonner"; a trailing run of digits is kept: "STOP36111", "st0p36111") and the Cyrillic
# and Greek letters drawn like Latin ones ("ЅТОР" typed with Cyrillic letters), lowercase since
# the text is casefolded first.
_LOOKALIKES = str.maketrans(
    "013457аеѕіјорсухткмнԁαεικνορτυχ",
    "oieastaesijopcyxtkmhdaeikvoptux",
)


def _spell_out(text: str) -> str:
    """Folded ``text`` with spelled-out ``s.t.o.p`` glued back into ``stop``."""
    return _SPELLED_STOP.sub("stop", _fold(text))


# "$TOP": a dollar sign glued before a letter is an S (read by the anywhere rule only, like
# digits: the first-word rule looks words up as typed).
_DOLLAR = re.compile(r"\$(?=[^\W\d_])")
# What may join two words of a clause: a hyphen (a run of dashes glued to a word on at least one
# side: the spaced ones are clause breaks) or an ampersand ("Stop & Go", "stop+go").
_HYPHEN = "-"
_AMPERSAND = "&"
_HYPHEN_GAP = re.compile(rf"\s*[{_DASHES}]+\s*")
_AMPERSAND_GAP = re.compile(r"\s*[&+]\s*")
# What may follow a clause up to the next word: a "?" there makes the clause a question.
_AFTER_CLAUSE = re.compile(r"[\W_]*")
_CONTRACTED = frozenset(
    {"don", "doesn", "didn", "won", "can", "couldn", "shouldn", "wouldn", "isn", "aren"}
    | {"wasn", "weren", "ain", "mustn"}
)


@dataclass(frozen=True)
class _Clause:
    """The words of a clause, normalised, read, contractions joined, and what joined them."""

    words: tuple[str, ...]
    joins: tuple[str, ...]  # joins[i]: _HYPHEN, _AMPERSAND or "" between words i and i + 1
    question: bool  # a "?" follows it


def _clause_list(folded: str) -> list[_Clause]:
    """The clauses of ``folded`` text (see :func:`_clauses`), their joins and question marks."""
    clauses: list[_Clause] = []
    start = 0
    for brk in [*_CLAUSE_BREAK.finditer(folded), None]:
        end = len(folded) if brk is None else brk.start()
        trailer = _AFTER_CLAUSE.match(folded, end)
        clause = _clause(folded[start:end], trailer is not None and "?" in trailer.group())
        if clause.words:
            clauses.append(clause)
        if brk is not None:
            start = brk.end()
    return clauses


def _clause(part: str, question: bool) -> _Clause:
    text = _fold(_DOLLAR.sub("s", part))
    # The words fold_words() would make, with their places in ``text`` to read what joins them.
    mapped = "".join(_word_char(c) for c in text)
    words: list[str] = []
    joins: list[str] = []
    previous = 0
    for match in re.finditer(r"\S+", mapped):
        word = _read_word(match.group())
        gap = text[previous : match.start()]
        previous = match.end()
        if not words:
            words.append(word)
        elif word == "t" and words[-1] in _CONTRACTED:
            words[-1] += "t"  # "don t" (normalised "don't") -> "dont": a negation is one word
        else:
            words.append(word)
            joins.append(
                _HYPHEN
                if _HYPHEN_GAP.fullmatch(gap)
                else _AMPERSAND
                if _AMPERSAND_GAP.fullmatch(gap)
                else ""
            )
    return _Clause(tuple(words), tuple(joins), question)


def _clauses(folded: str) -> list[list[str]]:
    """The words of each clause of ``folded`` text, normalised, read, contractions joined."""
    return [list(clause.words) for clause in _clause_list(folded)]


def _read_word(word: str) -> str:
    """``word`` with its lookalikes read as Latin letters when it has letters: ``st0p`` -> ``stop``.

    The trailing digits stay digits (``st0p36111`` -> ``stop36111``), and so does a word
    without letters (``36111``, ``2024``).
    """
    head = word.rstrip("0123456789")
    if not any(c.isalpha() for c in head):
        return word
    return head.translate(_LOOKALIKES) + word[len(head) :]


# --- guards ----------------------------------------------------------------------------------

_NEGATION_WINDOW = 4
_NEGATIONS = frozenset(
    {
        # English, contractions joined.
        *("dont", "doesnt", "didnt", "wont", "cant", "cannot", "couldnt", "shouldnt"),
        *("wouldnt", "isnt", "arent", "wasnt", "werent", "aint", "mustnt"),
        *("not", "never", "nor", "without"),
        # French.
        *("ne", "n", "pas", "jamais", "ni"),
    }
)
# "ne ... plus" is "no longer": "je ne veux plus, stop" objects, it does not negate the stop.
_NO_LONGER = "plus"
# Words that end what a negation is about: "not interested stop", "pas besoin stop".
_NEGATION_CLOSERS = frozenset(
    {
        *("interested", "thanks", "thank", "thx", "ok", "okay", "needed", "sure"),
        *("interesse", "interessee", "interesses", "interessees", "besoin", "envie"),
        *("merci", "accord", "grave", "question", "souci", "soucis", "probleme"),
    }
)

_NEGATION = "after a negation"
_COMPOUND = "in a compound"
_NOUN = "as a noun"
_PAST_OR_REFLEXIVE = "as a past tense or reflexive verb"
_STATEMENT = "after a subject pronoun"
_QUESTION = "in a question"

# "bus stop", "non-stop", "pit stop", "auto-stop"; French "faire du stop", "en stop".
# A determiner, a possessive, an ordinal or an adjective of place makes "stop" a noun: "the
# closest stop", "which stop?", "is this my stop?", "get off at stop 5". Only the word BEFORE
# counts: "stop the messages" is the verb followed by its object.
_STOP_BEFORE: Mapping[str, str] = {
    **dict.fromkeys(
        ("non", "bus", "pit", "auto", "truck", "tram", "train", "metro", "subway", "tube"),
        _COMPOUND,
    ),
    **dict.fromkeys(("whistle", "full", "one", "rest", "request"), _COMPOUND),
    **dict.fromkeys(
        (
            *("the", "a", "an", "this", "that", "which", "what", "whose", "each", "every"),
            *("my", "your", "ur", "our", "their", "his", "her", "its", "at"),
            *("next", "last", "first", "second", "third", "final", "previous", "following"),
            *("closest", "nearest", "nearby", "local", "same", "right", "wrong", "correct"),
        ),
        _NOUN,
    ),
    **dict.fromkeys(("le", "un", "du", "au", "en", "prochain", "dernier", "premier"), _NOUN),
}
# "make this stop", "let that stop": after a causative verb "this"/"that" is its object and
# "stop" the verb, not "this stop".
_CAUSATIVES = frozenset({"make", "makes", "let", "lets"})
_DEMONSTRATIVES = frozenset({"this", "that"})
# "stop-motion", "stop sign", "stop by (the shop)".
_STOP_AFTER: Mapping[str, str] = dict.fromkeys(
    ("motion", "sign", "signs", "light", "lights", "over", "watch", "loss", "by"), _COMPOUND
)
# "l'arrêt", "le prochain arrêt", "un arrêt", "quel arrêt", "sans arrêt" (= constantly).
_ARRET_BEFORE: Mapping[str, str] = {
    **dict.fromkeys(
        (
            *("l", "le", "la", "les", "un", "une", "du", "de", "d", "des", "au", "aux", "en"),
            *("mon", "ma", "ton", "ta", "son", "sa", "votre", "notre", "leur", "ce", "cet"),
            *("cette", "quel", "quelle", "prochain", "dernier", "premier", "bon", "gros"),
        ),
        _NOUN,
    ),
    "sans": _COMPOUND,
}
# "arrêt de bus", "arrêt du tram", "arrêt maladie", "arrêt cardiaque".
_ARRET_AFTER: Mapping[str, str] = dict.fromkeys(
    ("de", "du", "d", "des", "maladie", "cardiaque", "bus", "tram", "metro"), _NOUN
)
# "j'ai arrêté de fumer", "le bus a stoppé", "ça s'arrête quand ?", "un arrêté du maire".
_VERB_BEFORE: Mapping[str, str] = {
    **dict.fromkeys(
        (
            *("ai", "as", "a", "avons", "avez", "ont", "avait", "avais", "aurai", "ete"),
            *("suis", "es", "est", "sommes", "etes", "sont", "etait", "s", "se"),
        ),
        _PAST_OR_REFLEXIVE,
    ),
    # "un arrêté", "cet arrêté" (a decree); not "l'arrêter"/"le stopper" (stop it).
    **dict.fromkeys(("un", "cet", "du"), _NOUN),
    # "il faut que j'arrête de dépenser", "il arrête le foot": someone says what they stop.
    # Not "vous" ("vous arrêtez de m'écrire !" is an order) nor "on" ("on arrête là").
    **dict.fromkeys(("j", "je", "tu", "il", "elle", "ils", "elles"), _STATEMENT),
}
_NO_GUARD: Mapping[str, str] = MappingProxyType({})


def _negated(before: Sequence[str]) -> bool:
    """True when a negation among the last words of ``before`` reaches the next word."""
    window = before[-_NEGATION_WINDOW:]
    for index, word in enumerate(window):
        after = window[index + 1 :]
        if word not in _NEGATIONS or _NEGATION_CLOSERS.intersection(after):
            continue
        if word in ("ne", "n") and _NO_LONGER in after:
            continue
        return True
    return False


# --- strong words ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Family:
    """Opt-out words read anywhere in a short reply: a pattern over one or two words."""

    pattern: re.Pattern[str]
    keyword: str  # canonical keyword when the word is not itself in KEYWORD_TABLE
    scope: Scope
    words: int = 1
    before: Mapping[str, str] = _NO_GUARD  # previous word -> why it blocks the match
    after: Mapping[str, str] = _NO_GUARD  # next word -> why it blocks the match
    blocked: str | None = None  # why every match is blocked (read for review only)
    # The meaning guards (see _meaning_blocked): a verb that may start a name ("stop-over",
    # "Stop & Go"), a verb whose subject or object may be a sale ("when does the sale stop?"),
    # a French verb followed by "de" + an infinitive ("arrêtez de me faire rêver").
    names: bool = False
    asks: bool = False
    infinitive: bool = False


# STOP with repeated letters (and its two transposition typos, which are no word either), and
# the tails people glue to it: "stopsms", "STOP36111".
_STOP = r"(?:s+t+o+p+|sotp|stpo)"
_STOP_TAIL = r"(?:sms|msg|svp|stp|pls|plz|please|merci|pubs?|\d+)"
_FAMILIES: tuple[_Family, ...] = (
    # Two-word families first: "stop all" is scope ALL, not a plain "stop".
    _Family(re.compile(rf"{_STOP} (?:all|tout)"), "STOPALL", Scope.ALL, 2, _STOP_BEFORE),
    _Family(re.compile(r"opt(?:ed)? out"), "OPT-OUT", Scope.BRAND, 2),
    _Family(re.compile(rf"{_STOP}(?:all|tout)"), "STOPALL", Scope.ALL, 1, _STOP_BEFORE),
    _Family(
        re.compile(rf"{_STOP}{_STOP_TAIL}?"),
        "STOP",
        Scope.BRAND,
        1,
        _STOP_BEFORE,
        _STOP_AFTER,
        names=True,
        asks=True,
    ),
    _Family(re.compile(r"nonstop"), "STOP", Scope.BRAND, blocked=_COMPOUND),
    _Family(
        re.compile(r"stopp(?:e|es|er|ez)"),
        "STOPPE",
        Scope.BRAND,
        1,
        _VERB_BEFORE,
        asks=True,
        infinitive=True,
    ),
    # "arrête(s/z)", "arrêter", and their r/t typos ("arettez", "arrette"), but not "arête(s)"
    # (a fish bone, a ridge).
    _Family(
        re.compile(r"ar+et+(?:er|ez)|(?:arr+et+|ar+ett+)(?:e|es)"),
        "ARRETE",
        Scope.BRAND,
        1,
        _VERB_BEFORE,
        asks=True,
        infinitive=True,
    ),
    _Family(re.compile(r"arret"), "ARRET", Scope.BRAND, 1, _ARRET_BEFORE, _ARRET_AFTER),
    # "unsubscribe" and its typos: "unsuscribe", "unsusbcribe", "unscribe".
    _Family(re.compile(r"unsub\w*|unsu\w{0,3}cri\w*|unscrib\w*"), "UNSUBSCRIBE", Scope.BRAND),
    _Family(re.compile(r"desabo|desabon+\w*"), "DESABONNER", Scope.BRAND),
    _Family(re.compile(r"desins?cri\w*"), "DESINSCRIRE", Scope.BRAND),
    _Family(re.compile(r"optout|optedout"), "OPTOUT", Scope.BRAND),
)


@dataclass(frozen=True)
class _Finding:
    """An opt-out word or phrase read in a clause, and what blocks it (None: applied)."""

    text: str  # what was read, normalised: "stop", "arreter", "plus m envoyer de sms"
    keyword: str
    scope: Scope
    blocked_by: str | None


def _word_findings(clause: _Clause) -> Iterator[_Finding]:
    words = clause.words
    index = 0
    while index < len(words):
        found = _family_at(words, index)
        if found is None:
            index += 1
            continue
        family, end = found
        text = " ".join(words[index:end])
        keyword, scope = _keyword_for(text, family)
        yield _Finding(text, keyword, scope, _word_blocked(family, clause, index, end))
        index = end


def _family_at(words: Sequence[str], index: int) -> tuple[_Family, int] | None:
    for family in _FAMILIES:
        end = index + family.words
        if end <= len(words) and family.pattern.fullmatch(" ".join(words[index:end])):
            return family, end
    return None


def _keyword_for(text: str, family: _Family) -> tuple[str, Scope]:
    # A word of the table reports the table's spelling ("desabonnez" -> "DESABONNEZ", "stop
    # all" -> "STOP ALL"); a variant reports its family's keyword ("stooop", "stop36111" ->
    # "STOP"), the one operators search for.
    entry = KEYWORD_TABLE.get(text)
    if entry is not None and entry.intent is Intent.OPT_OUT and entry.keyword:
        return entry.keyword, entry.scope
    return family.keyword, family.scope


def _word_blocked(family: _Family, clause: _Clause, start: int, end: int) -> str | None:
    words = clause.words
    if family.blocked is not None:
        return family.blocked
    if start > 0 and words[start - 1] in family.before and not _caused(words, start):
        return family.before[words[start - 1]]
    if end < len(words) and words[end] in family.after:
        return family.after[words[end]]
    if _negated(words[:start]):
        return _NEGATION
    return _meaning_blocked(family, clause, start, end)


def _caused(words: Sequence[str], start: int) -> bool:
    """True for "make this stop": the word before ``start`` is the object of a causative."""
    return start > 1 and words[start - 1] in _DEMONSTRATIVES and words[start - 2] in _CAUSATIVES


# --- objection phrases -----------------------------------------------------------------------

# What is objected to.
_OBJ = (
    r"(?:sms|messages?|msgs?|textos?|pubs?|publicites?|promos?|promotions?|offres?|notifs?"
    r"|notifications?|mails?|emails?|spams?|relances?|newsletters?|demarchages?|prospections?"
    r"|sollicitations?)"
)
# French verbs the sender does to "me". Reaching me is an objection whatever follows ("ne plus
# me contacter"); sending or writing is one only about messages, not about an invoice ("ne plus
# m'envoyer la facture papier"), hence _SENT_FR after those verbs.
_REACH_FR = r"(?:re|r)?(?:contact|sollicit|spam|harcel|derang|importun|appel|relanc)\w*"
_SEND_FR = r"(?:re|r)?(?:envoy|ecri|texto)\w*"
_SENT_FR = (
    r"(?: (?:(?:de|d|des|du|vos|ces|les|tous|toutes|votre|ce|cette|autres?|plus|jamais|aucune?)"
    rf" ){{0,3}}{_OBJ}\b| (?:ca|cela|rien|quoi|svp|stp|merci|pls)\b|$)"
)
_TO_ME_FR = rf"(?:{_REACH_FR}|{_SEND_FR}{_SENT_FR})"
_OBJ_EN = r"(?:texts?|txts?|messages?|msgs?|sms|spam|ads|promos?|offers|marketing|notifications?)"
_SEND_EN = r"(?:text|txt|message|msg|sms|contact|email|spam|bother|harass)\w*"
_REACHED_EN = r"(?:contacted|texted|messaged|spammed|bothered|emailed|called|disturbed|harassed)"
# What a GDPR objection may be about besides the messages: "je m'oppose au traitement de mes
# données", "I object to the sale of my number", "je m'oppose à la réception de vos SMS".
_OBJECTED = (
    rf"(?:{_OBJ}|{_OBJ_EN}|envois?|appels?|calls|reception|receiving|traitement|processing"
    r"|donnees|data|numeros?|number|communications?|contact\w*|texting|messaging)"
)
# English "no longer" openers: an order ("don't", "never") or a wish ("I no longer want").
_NOT_EN = r"(?:dont|do not|never|no longer)(?: (?:ever|really))?"
# Courtesy words that may close a short request: "me retirer svp", "no more please".
_POLITE = (
    r"(?:svp|svpl|stp|merci|pls|plz|please|thanks|thx|thank you|ty|s il vous plait"
    r"|s il te plait|d avance|par avance|beaucoup|bien)"
)
# Who says it when an English "no longer" phrase is a statement, not a request: "you never
# send me anything" complains, "never send me anything" orders.
_SUBJECTS_EN: Mapping[str, str] = dict.fromkeys(
    ("you", "u", "ya", "they", "it", "he", "she"), _STATEMENT
)
# "aucune opposition à vos SMS", "no objection to your texts": the objection is denied.
_DENIED: Mapping[str, str] = dict.fromkeys(("no", "aucune", "aucun", "sans", "without"), _NEGATION)
# "vous m'envoyez sans cesse des SMS": "sans cesse" is "constantly", a complaint (reviewed).
_CONSTANTLY: Mapping[str, str] = {"sans": _COMPOUND}
# Adverbs that may stand with an objection that is the whole clause: "je m'y oppose formellement".
_FIRMLY = r"(?:formellement|fermement|strongly|totalement|completement|absolument|vraiment)"


@dataclass(frozen=True)
class _Phrase:
    """An objection phrase over a normalised clause.

    ``no_longer`` phrases are themselves negations ("ne plus", "don't text me"): no negation
    guard, but "pourquoi"/"why" before them makes them a question about offers that stopped.
    The others ("retirez-moi", "remove me") are blocked by a negation before them.
    """

    source: str
    no_longer: bool
    before: Mapping[str, str] = _NO_GUARD  # previous word -> why it blocks the match

    @cached_property
    def pattern(self) -> re.Pattern[str]:
        # Compiled on first use: the phrases cost ~60 ms at cold start, and a reply whose
        # first word is a keyword ("STOP") never reads them.
        return re.compile(self.source)


def _phrase(pattern: str, *, no_longer: bool, before: Mapping[str, str] = _NO_GUARD) -> _Phrase:
    return _Phrase(pattern, no_longer, before)


_PHRASES: tuple[_Phrase, ...] = (
    # French "no longer": "ne plus m'envoyer", "plus me contacter", "ne plus recevoir".
    _phrase(rf"\bplus (?:(?:jamais|rien) )?(?:me|m|nous) {_TO_ME_FR}", no_longer=True),
    _phrase(r"\bplus (?:(?:jamais|rien|les|en) )?recevoir\b", no_longer=True),
    _phrase(rf"\bplus (?:jamais )?etre {_REACH_FR}", no_longer=True),
    # "ne m'envoyez plus de sms", "ne me contactez plus" (not "je ne reçois plus": that is a
    # complaint).
    _phrase(
        r"\b(?:ne|n) (?:(?:me|m|nous|les|leur|lui|en) ){0,2}"
        rf"(?:{_REACH_FR} plus\b|{_SEND_FR} plus{_SENT_FR})",
        no_longer=True,
    ),
    # "je ne veux plus de vos sms" (ne ... plus de: unambiguous, unlike a bare "plus de sms").
    _phrase(
        rf"\b(?:ne|n) (?:(?!reco|recu|recev)\w+ ){{0,3}}plus "
        rf"(?:(?:de|d|aucune?|vos|ces|tes|les|votre|jamais) ){{1,2}}{_OBJ}\b",
        no_longer=True,
    ),
    _phrase(rf"\bplus (?:jamais|aucune?) (?:(?:de|d|vos|ces|les) ){{0,2}}{_OBJ}\b", no_longer=True),
    _phrase(r"\b(?:ne|n) en veu\w* plus\b", no_longer=True),
    # "merci de ne pas me recontacter", "ne pas m'envoyer de pub".
    _phrase(rf"\bne pas (?:me|m|nous) {_TO_ME_FR}", no_longer=True),
    # "je ne veux plus que vous m'envoyiez de sms", "je ne veux pas qu'on me contacte".
    # (A wish before it: not "ce n'est pas qu'on me dérange".)
    _phrase(
        r"\b(?:veu[xt]|voulons|voudrai\w*|souhait\w*|desir\w*|aimerai\w*) (?:plus|pas) (?:que|qu) "
        rf"(?:vous|tu|on) (?:me|m|nous) {_TO_ME_FR}",
        no_longer=True,
    ),
    # "je ne veux pas de vos pubs", "je veux pas recevoir de sms", "ne souhaite pas être contacté"
    _phrase(
        r"\b(?:veux|veut|souhaite|souhaitons|desire|voudrais|voulons) pas "
        r"(?:(?:de|d|vos|ces|tes|votre|recevoir|etre|me|m|les|des) ){0,3}"
        rf"(?:{_OBJ}|recevoir|contacte\w*|sollicite\w*|derange\w*|harcele\w*|spamme\w*)\b",
        no_longer=True,
    ),
    # French removal requests.
    _phrase(
        rf"\barret (?:des|de|d|du) (?:(?:vos|ces|m|me|l|les) )?(?:{_OBJ}|envo\w*|ecrire)\b",
        no_longer=False,
    ),
    _phrase(
        r"\b(?:retirez|retire|retirer|supprimez|supprime|supprimer|enlevez|enleve|enlever"
        r"|rayez|rayer|effacez|efface|effacer|sortez|desinscrivez|desabonnez) (?:moi|nous)\b",
        no_longer=False,
    ),
    _phrase(
        r"\b(?:retir|supprim|enlev|effac)\w* (?:mon|mes|notre|nos) (?:numeros?|num|no|tel"
        r"|telephone|portable|coordonnees|donnees|contacts?|infos?|informations)\b",
        no_longer=False,
    ),
    _phrase(
        r"\b(?:retir|enlev|effac|supprim|rayer|rayez|sort)\w* (?:\w+ ){0,3}(?:de|du|des|d) "
        r"(?:\w+ ){0,2}(?:listes?|fichiers?|bases?|diffusion|mailing|repertoire)\b",
        no_longer=False,
    ),
    _phrase(r"\b(?:me|m) (?:supprim|desinscri|desabon|rayer)\w*", no_longer=False),
    # "merci de me retirer", "vous pouvez m'enlever svp": the request ends there. Not "me
    # retirer le colis", "m'enlever un doute" (something is withdrawn for me).
    _phrase(rf"\b(?:me|m|nous) (?:retir|enlev|effac)\w*(?: {_POLITE})*$", no_longer=False),
    # "je souhaite être retiré(e)", "je veux être supprimé de vos fichiers".
    _phrase(
        r"\b(?:veu[xt]|voulons|voudrai\w*|souhait\w*|desir\w*|aimerai\w*|demande a) "
        r"etre (?:retir|supprim|enlev|ray|effac|desinscri|desabonn)\w*",
        no_longer=False,
    ),
    # "je ne veux plus faire partie de votre liste".
    _phrase(
        r"\bplus (?:faire )?partie (?:de|d|du|des) (?:\w+ ){0,2}(?:listes?|fichiers?|bases?"
        r"|diffusion|mailing|contacts|abonnes)\b",
        no_longer=True,
    ),
    _phrase(
        r"\b(?:suppression|retrait|radiation) (?:de|d|du) (?:mon|mes|ma|notre|nos) (?:numeros?"
        r"|num|no|tel|telephone|portable|coordonnees|donnees|contact|inscription|abonnement)\b",
        no_longer=False,
    ),
    _phrase(r"\blaiss\w* (?:moi|nous) (?:en paix|tranquilles?)\b", no_longer=False),
    _phrase(r"\b(?:fich|fout)\w* (?:moi|nous) la paix\b", no_longer=False),
    _phrase(
        rf"\blach(?:e|ez) (?:moi|nous)(?: (?:la grappe|les baskets|{_POLITE}))*$", no_longer=False
    ),
    # English "no longer": "don't text me", "do not contact me", "no more messages".
    _phrase(
        rf"\b{_NOT_EN} {_SEND_EN}(?: (?:me|us|this number)\b|$)",
        no_longer=True,
        before=_SUBJECTS_EN,
    ),
    _phrase(
        rf"\b{_NOT_EN} send (?:(?:me|us|any|more|anymore|these|your|ur|yr|such|those|of|this) )*"
        rf"{_OBJ_EN}\b",
        no_longer=True,
        before=_SUBJECTS_EN,
    ),
    # "don't send me anything (else)", "never send me anything again": nothing at all; not
    # "don't send me the invoice by post".
    _phrase(
        rf"\b{_NOT_EN} send (?:(?:me|us|this number) )?(?:anything|nothing|stuff|any more"
        rf"|anymore|more)(?: (?:else|more|anymore|again|ever|at all|{_POLITE}))*$",
        no_longer=True,
        before=_SUBJECTS_EN,
    ),
    _phrase(rf"\bno more (?:of (?:your|these|this|those) )?(?:\w+ )?{_OBJ_EN}\b", no_longer=True),
    # "no more", "please no more", "ok no more of this": the whole clause (not "is there no
    # more?", a question about stock).
    _phrase(
        rf"^(?:(?:ok|okay|so|just|seriously|{_POLITE}) )*no more"
        rf"(?: (?:of (?:this|these|that|it|them)|{_POLITE}))*$",
        no_longer=True,
    ),
    # "I don't want your texts", "I no longer want these texts", "I do not wish to receive
    # messages"; not "I no longer want to wait".
    _phrase(
        rf"\b{_NOT_EN} (?:want|wish|need)(?: to (?:receive|get|have|see))? "
        r"(?:(?:any|more|anymore|your|ur|yr|these|those|such|the|this|of|all|them|further) )*"
        rf"{_OBJ_EN}\b",
        no_longer=True,
        before=_SUBJECTS_EN,
    ),
    _phrase(
        rf"\b{_NOT_EN} (?:want|wish|need) (?:to be|being) {_REACHED_EN}\b",
        no_longer=True,
        before=_SUBJECTS_EN,
    ),
    # "I don't want you to text me anymore", "I no longer want to be on your list".
    _phrase(
        rf"\b{_NOT_EN} (?:want|wish|need) (?:you|u|anyone|them) to (?:ever )?(?:{_SEND_EN}"
        r"|send)\b",
        no_longer=True,
        before=_SUBJECTS_EN,
    ),
    _phrase(
        rf"\b{_NOT_EN} (?:want|wish|need) to (?:be|stay) (?:on|in) (?:\w+ )?(?:list|mailing"
        r"|database|contacts)\b",
        no_longer=True,
        before=_SUBJECTS_EN,
    ),
    # English removal requests.
    _phrase(
        r"\bquit (?:\w+ )?(?:texting|messaging|sending|spamming|contacting|bothering"
        r"|harassing|emailing)\b",
        no_longer=False,
    ),
    _phrase(
        r"\b(?:remove|delete|erase) (?:me|us|my (?:number|no|phone|details|data|info|contact))\b",
        no_longer=False,
    ),
    _phrase(
        r"\bremove (?:me )?from (?:\w+ )?(?:list|mailing|database|contacts)\b", no_longer=False
    ),
    _phrase(r"\b(?:take|get) (?:me|my number) off\b", no_longer=False),
    _phrase(r"\bopt me out\b", no_longer=False),
    _phrase(r"\bleave (?:me|us) alone\b", no_longer=False),
    # Objections without "no longer" (GDPR art. 21 needs no keyword), French and English.
    # "je m'oppose à vos SMS", "opposition au démarchage", "I object to your texts", "je
    # m'oppose à ce que vous m'envoyiez des SMS"; not "je m'oppose à la hausse des prix"
    # (reviewed), nor "aucune opposition", "no objection to".
    _phrase(
        rf"\b(?:oppos(?!ite)\w*|object(?:s|ed|ing)? to) (?:\w+ ){{0,8}}{_OBJECTED}\b",
        no_longer=False,
        before=_DENIED,
    ),
    # "Je m'y oppose.", "Opposition !", "I strongly object": the objection is the whole clause.
    _phrase(
        rf"^(?:(?:je|j|m|me|y|nous|i|we|{_FIRMLY}|{_POLITE}) )*(?:oppos(?!ite)\w*|object"
        rf"|objection)(?: (?:{_FIRMLY}|{_POLITE}))*$",
        no_longer=False,
    ),
    _phrase(r"\b(?:droits? (?:d|de) opposition|right to object)\b", no_longer=False),
    # "je retire mon consentement", "I withdraw my consent", "consent revoked", "je ne consens
    # plus", "I do not consent".
    _phrase(
        r"\b(?:retir|withdr|revo[kq]|annul|cancel|retrait|revocation)\w* "
        r"(?:(?:de|d|of|mon|my|our|notre|the|this|all|any) ){0,2}consent\w*"
        r"|\bconsent\w* (?:(?:is|est) )?(?:withdrawn|revoked|retire|revoque|annule)\b",
        no_longer=False,
    ),
    _phrase(rf"\b{_NOT_EN} consent\b", no_longer=True, before=_SUBJECTS_EN),
    _phrase(r"\b(?:ne|n) consen\w* (?:plus|pas)\b", no_longer=True),
    # "je refuse (de recevoir) vos SMS", "I refuse to be contacted", "je refuse que vous me
    # contactiez"; not "je refuse de payer ce prix", nor "je refuse votre offre" (declining one
    # offer, not the messages).
    _phrase(
        r"\brefus\w* (?:(?:de|d|to) (?:recevoir|receive|get|accept) )?"
        r"(?:(?:vos|ces|tes|les|le|la|l|des|de|d|tout|toute|tous|toutes|votre|ce|cette|your|ur"
        r"|these|those|the|any|all|such|more) ){0,2}"
        rf"(?!offres?\b|offers?\b)(?:{_OBJ}|{_OBJ_EN}|appels?|calls)\b",
        no_longer=False,
    ),
    _phrase(
        rf"\brefus\w* (?:(?:de|d|to) (?:etre|be|being) (?:{_REACH_FR}|{_REACHED_EN})"
        rf"|(?:que|qu) (?:vous|tu|on) (?:me|m|nous) {_TO_ME_FR})",
        no_longer=False,
    ),
    # "cessez de m'envoyer des SMS", "cessez vos envois", "cesser de recevoir"; not "cessez de
    # vous moquer de moi" (something else stops) nor "sans cesse des SMS" (constantly).
    _phrase(
        rf"\bcess\w* (?:de|d) (?:(?:me|m|nous) {_TO_ME_FR}|{_SEND_FR}{_SENT_FR}|recevoir\b)",
        no_longer=False,
        before=_CONSTANTLY,
    ),
    _phrase(
        r"\bcess\w* (?:(?:vos|ces|tes|les|tous|toutes|tout|votre|ce|cette|de|d|des) ){1,2}"
        rf"(?:{_OBJ}|envois?|appels?)\b",
        no_longer=False,
        before=_CONSTANTLY,
    ),
    # "cease sending me texts", "cease all contact", "cease and desist"; not "cease fire".
    _phrase(
        r"\bcease (?:and desist|(?:(?:all|any|your|ur|these|those|the|further|sending|to send"
        rf"|me|us) )*(?:{_OBJ_EN}|{_SEND_EN}|communications?|calls))\b",
        no_longer=False,
    ),
    # "Cessez !", "cease now", "cessez ça svp": the whole clause.
    _phrase(
        rf"^(?:(?:ok|{_POLITE}) )*(?:cess(?:ez|e|er)|cease)"
        rf"(?: (?:ca|cela|ceci|tout|immediatement|maintenant|now|it|this|{_POLITE}))*$",
        no_longer=False,
    ),
)

_QUESTION_WORDS = frozenset({"pourquoi", "pq", "pk", "why"})


def _phrase_findings(words: Sequence[str]) -> Iterator[_Finding]:
    clause = " ".join(words)
    for phrase in _PHRASES:
        for match in phrase.pattern.finditer(clause):
            before = clause[: match.start()].split()
            if before and before[-1] in phrase.before:
                blocked: str | None = phrase.before[before[-1]]
            elif phrase.no_longer:
                blocked = _QUESTION if _QUESTION_WORDS.intersection(before) else None
            else:
                blocked = _NEGATION if _negated(before) else None
            yield _Finding(match.group(), OBJECTION, Scope.BRAND, blocked)


# --- meaning guards --------------------------------------------------------------------------
# Guards that read more than the word next to a STOP or an "arrêter": the names STOP starts, the
# questions about a sale that stops, "arrêter de" + another verb. They block a first-word
# keyword too (see _said_otherwise); nothing about messages may be in the clause for the last
# two.

_ELSE = "about something else"
_ELSE_QUESTION = "in a question about something else"

_PLAIN_STOP = re.compile(_STOP)
# "Stop-over", "stop-and-go": a hyphen glues STOP to any word but a tail ("Stop-sms", "stop-all",
# "STOP-36111", "stop-pub"), what is sent ("stop-spam") or the object of the verb ("stop-it").
_STOP_SUFFIXES = re.compile(
    rf"{_STOP_TAIL}|{_STOP}\w*|all|tout|{_OBJ}|{_OBJ_EN}|it|this|that|them|now|moi|ca|la"
)
# "Stop & Go", "Stop or encore ?", "stop ou encore", "stop'n'go": STOP, a coordinator and one word
# that ends the clause (or a question: "Stop & Go c'est où ?").
_COORDINATORS = frozenset({"and", "or", "ou", "n"})
# ... unless that word goes on a sentence: "Stop or I'll sue", "Stop ou je porte plainte",
# "Stop or else", "stop and thanks", or is an opt-out word itself ("stop and unsubscribe").
_NOT_A_NAME = frozenset(
    {
        *("i", "je", "j", "we", "nous", "you", "u", "vous", "tu", "on", "il", "elle", "they"),
        *("ils", "elles", "me", "moi", "else", "sinon", "autrement", "desist", "basta"),
        *("now", "maintenant", "immediately", "immediatement", "tout", "all", "everything"),
        *("never", "jamais", "please", "pls", "plz", "thanks", "thank", "thx", "merci", "svp"),
        *("stp", "ok", "okay", "bien", "what", "quoi", "not", "pas"),
    }
)

# What the messages are: a clause naming them is about the messages whatever else it says
# ("Vous arrêtez quand de m'envoyer des SMS ?", "When will you stop texting me?"). Not "promo"
# nor "offre": "Quand arrêtez-vous la promo ?" asks about the promotion, not the messages.
_MESSAGES = (
    r"(?:sms|messages?|msgs?|textos?|pubs?|publicites?|notifs?|notifications?|e?mails?|spams?"
    r"|relances?|newsletters?|demarchages?|prospections?|sollicitations?|envois?|appels?"
    r"|texts?|txts?|ads|marketing|calls)"
)
# "Arrêtez de m'embêter", "de nous saouler", "de me faire chier": pestering me is about the
# messages too.
_PESTER_FR = (
    r"(?:(?:me|m|nous) (?:embet|emmerd|saoul|soul|gonfl|bombard|inond|pollu|pourri|ennuy|agac"
    r"|fatigu)\w*|faire (?:chier|suer))"
)
_ABOUT_MESSAGES = re.compile(
    rf"\b(?:{_MESSAGES}|{_REACH_FR}|{_SEND_FR}|{_PESTER_FR}|recevoir|{_SEND_EN}|messag\w*"
    r"|sending|calling|writing|reaching|(?:mon|ma|notre|nos|my|our) (?:tel|telephone|portable"
    r"|phone|mobile|boite|messagerie|inbox))\b"
)

# "Arrêtez de me faire rêver", "arrête d'être aussi cher": "de", the pronouns of the verb, then
# an infinitive (what is stopped is not the messages).
_DE = frozenset({"de", "d"})
_CLITICS = frozenset(
    {"me", "m", "te", "t", "se", "s", "nous", "vous", "le", "la", "l", "les", "lui", "leur", "en"}
    | {"y"}
)
_INFINITIVE = re.compile(r"\w{2,}(?:er|ir|re)")

# A question about when: "Vous arrêtez quand les soldes ?", "When does the sale stop?", "à
# quelle heure ?", "je veux savoir quand vous arrêtez la promo". Not "quand même" (anyway), nor
# "quand"/"when" before I, we or it: there it is a conjunction ("Quand je dis stop c'est stop",
# "when I say stop"), unless a "?" ends the clause.
_SUBJECT = r"(?:je|j|i|we|nous|on|it|ca|c|cela)"
_WHEN_WORDS = r"what time|what day|which day|quel\w* (?:heure|jour|date)|how long|combien de temps"
_WHEN = re.compile(rf"\b(?:quand(?! meme\b)|when|{_WHEN_WORDS})\b")
_WHEN_ASKED = re.compile(rf"\b(?:(?:quand(?! meme\b)|when)\b(?! {_SUBJECT}\b)|{_WHEN_WORDS}\b)")
# A clause is a question when a "?" follows it, or when it starts like one: "When does the sale
# stop", "Does the offer stop", "Est-ce que vous arrêtez les soldes".
_QUESTION_START = re.compile(
    rf"^(?:(?:a|at|until|till|jusqu) )?(?:(?:quand|when)\b(?! {_SUBJECT}\b)|{_WHEN_WORDS}"
    r"|does|do|did|will|would|is|are|est ce)\b"
)
# What stops, asked about anywhere in the clause: the sale, the shop, the event, the product.
_EVENTS = frozenset(
    {
        *("soldes", "solde", "sale", "sales", "vente", "ventes", "magasin", "magasins"),
        *("boutique", "boutiques", "shop", "shops", "store", "stores", "event", "events"),
        *("evenement", "evenements", "concert", "concerts", "festival", "salon", "destockage"),
        *("liquidation", "operation", "concours", "contest", "jeu", "livraison", "livraisons"),
        *("delivery", "deliveries", "travaux", "fabrication", "production", "produit"),
        *("produits", "product", "products", "modele", "modeles", "model", "collection"),
        *("gamme", "article", "articles", "reference"),
    }
)
# What stops when it is the subject (before the verb: "Does the offer stop tomorrow?"); after
# it, it is what is sent ("Can you stop the promos?").
_OFFERS = frozenset(
    {
        *("promo", "promos", "promotion", "promotions", "offre", "offres", "offer", "offers"),
        *("deal", "deals", "reduction", "reductions", "reduc", "remise", "remises"),
        *("discount", "discounts", "code", "codes", "prix", "price", "prices", "tarif", "tarifs"),
    }
)


def _meaning_blocked(family: _Family, clause: _Clause, start: int, end: int) -> str | None:
    """Why a STOP or an "arrêter" is not meant as an opt-out, or ``None`` (see the guards)."""
    words = clause.words
    if family.names and not _PLAIN_STOP.fullmatch(words[start]):
        return None  # "STOP36111", "stopsms": a tail says what is stopped
    if family.names and _names(clause, end):
        return _COMPOUND
    if _ABOUT_MESSAGES.search(" ".join(words)):
        return None
    if family.infinitive and _other_infinitive(words, end):
        return _ELSE
    if family.asks and _asks_about_else(clause, start):
        return _ELSE_QUESTION
    return None


def _names(clause: _Clause, after: int) -> bool:
    """True when the STOP before ``after`` starts a name: "stop-over", "Stop & Go", "stop or X"."""
    words, joins = clause.words, clause.joins
    if after >= len(words):
        return False
    if joins[after - 1] == _HYPHEN:
        return not _STOP_SUFFIXES.fullmatch(words[after])
    if joins[after - 1] == _AMPERSAND:
        other = after
    elif words[after] in _COORDINATORS:
        other = after + 1
    else:
        return False
    return (
        other < len(words)
        and words[other] not in _NOT_A_NAME
        and _family_at(words, other) is None  # "stop and stop", "STOP n'stop" (a negation)
        and (other == len(words) - 1 or clause.question)
    )


def _other_infinitive(words: Sequence[str], after: int) -> bool:
    """True for "arrêtez de me faire rêver": "de", pronouns, an infinitive after the verb."""
    if after >= len(words) or words[after] not in _DE:
        return False
    index = after + 1
    while index < len(words) and words[index] in _CLITICS:
        index += 1
    return index < len(words) and _INFINITIVE.fullmatch(words[index]) is not None


def _asks_about_else(clause: _Clause, start: int) -> bool:
    """True for a question about when something stops, or about a sale that stops."""
    words = clause.words
    text = " ".join(words)
    question = clause.question or _QUESTION_START.match(text) is not None
    if _WHEN_ASKED.search(text) or (clause.question and _WHEN.search(text)):
        return True
    return question and (not _EVENTS.isdisjoint(words) or not _OFFERS.isdisjoint(words[:start]))


def _findings(folded: str) -> list[_Finding]:
    """Every opt-out word or phrase of the (spelled-out, folded) text, clause by clause."""
    found: list[_Finding] = []
    for clause in _clause_list(folded):
        found.extend(_word_findings(clause))
        found.extend(_phrase_findings(clause.words))
    return found


# --- classification --------------------------------------------------------------------------


def classify(text: str | None) -> Classification:
    """Classify an inbound reply: first-word keyword, else an opt-out read anywhere.

    docs/KEYWORDS.md gives the rule, the guards and why.
    """
    if not text:
        return UNCLASSIFIED
    folded = _spell_out(text)
    words = fold_words(folded).split()
    first = _first_words(words)
    if first is not None and not _said_otherwise(folded, first):
        return first
    if len(words) > MAX_AUTO_WORDS:
        return UNCLASSIFIED
    return _anywhere(_findings(folded))


def _first_words(words: Sequence[str]) -> Classification | None:
    for count in range(MAX_KEYWORD_WORDS, 0, -1):
        if len(words) >= count:
            match = KEYWORD_TABLE.get(" ".join(words[:count]))
            if match is not None:
                return match
    return None


def _said_otherwise(folded: str, first: Classification) -> bool:
    """True when a first-word opt-out is a name or about something else ("Stop-over à Paris ?",
    "Arrêtez de me faire rêver", "Arrêtez-vous les soldes ?"): then the reply is read by the
    anywhere rule, like any other. A question after STOP itself is not enough ("Stop quand ?",
    "STOP when will this end"): the keyword of the mention comes first."""
    if first.intent is not Intent.OPT_OUT:
        return False
    clauses = _clause_list(folded)
    found = _family_at(clauses[0].words, 0) if clauses else None
    if found is None:
        return False
    family, end = found
    reason = _meaning_blocked(family, clauses[0], 0, end)
    return reason is not None and not (family.names and reason == _ELSE_QUESTION)


def _anywhere(findings: Sequence[_Finding]) -> Classification:
    applied = [f for f in findings if f.blocked_by is None]
    if not applied:
        return UNCLASSIFIED
    # Scope ALL as soon as one applied match says so ("merci, stop all").
    chosen = next((f for f in applied if f.scope is Scope.ALL), applied[0])
    return Classification(Intent.OPT_OUT, chosen.keyword, chosen.scope)


# --- review ----------------------------------------------------------------------------------

# "plus de sms" without "ne"/"jamais"/"aucun": more SMS, or (spoken) no more SMS.
_AMBIGUOUS = re.compile(rf"\bplus (?:de|d) (?:(?:vos|ces|tes|les) )?{_OBJ}\b")
_WEAK_WORDS = frozenset(
    {
        *(fold_words(k) for k in WEAK_OPT_OUT_KEYWORDS if " " not in fold_words(k)),
        *("annuler", "annulez", "annule", "resilier", "resiliez", "resilie"),
        # Refusing or ceasing is an objection only about messages (see _PHRASES): "je refuse
        # de payer", "cessez de vous moquer de moi" are not; "sans cesse des SMS" may be.
        *("refuse", "refuses", "refuser", "refusez", "refus", "refused"),
        *("cesse", "cesses", "cesser", "cessez", "cease"),
    }
)
# What a weak word must be near to look like an opt-out rather than an everyday sentence.
_NEAR_WEAK = frozenset(
    {
        *("sms", "text", "texts", "txt", "message", "messages", "msg", "msgs", "list"),
        *("liste", "listes", "subscription", "subscriptions", "abonnement", "newsletter"),
        *("marketing", "promo", "promos", "pub", "pubs", "notification", "notifications"),
        *("mailing", "spam", "alerts", "alertes", "textos", "texto"),
    }
)
_NEAR_WINDOW = 5
# A weak word with nothing but these around it in its clause ("please remove", "ok cancel",
# "merci, annuler", "je refuse") is not a sentence about an order: it is flagged. Not "td":
# two letters are too often something else.
_COURTESY = frozenset(
    {
        *("please", "pls", "plz", "thanks", "thank", "you", "thx", "ok", "okay", "yes", "just"),
        *("svp", "stp", "merci", "oui", "bon", "alors", "bien", "vraiment", "really"),
        *("i", "we", "je", "j", "nous"),
    }
)
# The vocabulary of a GDPR objection: a reply using it that was not applied is read by a person
# ("je ne m'oppose pas", "je m'oppose à la hausse des prix", "I never consented"). English
# "object" only as the verb ("I object", "objects to"), not the noun ("what is this object?").
_OBJECTION_WORD = re.compile(
    r"\b(?:oppos(?!ite)\w*|objections?|object(?:ed|ing)|object(?:s)? to|(?:i|we) (?:\w+ )?object"
    r"|consent\w*|consens)\b"
)


def review_reason(text: str | None, classification: Classification) -> str | None:
    """Why a reply NOT classified as an opt-out should still be read by a person, or ``None``.

    ``classification`` is what :func:`classify` returned for ``text``; an opt-out is never
    flagged (it has been applied). The reason is short and names the word read, normalised:
    ``"contains 'stop' after a negation"``, ``"contains 'desabonner' in a long reply"``,
    ``"contains 'plus de sms' (more or no more?)"``, ``"contains 'cancel' near 'subscription'"``.
    """
    if not text or classification.intent is Intent.OPT_OUT:
        return None
    folded = _spell_out(text)
    findings = _findings(folded)
    applied = next((f for f in findings if f.blocked_by is None), None)
    if applied is not None:
        long = len(fold_words(folded).split()) > MAX_AUTO_WORDS
        return f"contains '{applied.text}'" + (" in a long reply" if long else "")
    if findings:
        return f"contains '{findings[0].text}' {findings[0].blocked_by}"
    return _ambiguous(folded) or _objection_word(folded) or _weak_near(folded) or _stop_typo(folded)


def _ambiguous(folded: str) -> str | None:
    for words in _clauses(folded):
        match = _AMBIGUOUS.search(" ".join(words))
        if match is not None:
            return f"contains '{match.group()}' (more or no more?)"
    return None


def _objection_word(folded: str) -> str | None:
    for words in _clauses(folded):
        match = _OBJECTION_WORD.search(" ".join(words))
        if match is not None:
            return f"contains '{match.group()}' (an objection word)"
    return None


def _weak_near(folded: str) -> str | None:
    for words in _clauses(folded):
        for index, word in enumerate(words):
            if word not in _WEAK_WORDS:
                continue
            around = words[max(0, index - _NEAR_WINDOW) : index + _NEAR_WINDOW + 1]
            near = next((w for w in around if w in _NEAR_WEAK), None)
            if near is not None:
                return f"contains '{word}' near '{near}'"
            others = words[:index] + words[index + 1 :]
            if word != "td" and _COURTESY.issuperset(others):
                return f"contains '{word}' alone"
    return None


def _stop_typo(folded: str) -> str | None:
    """ "Stp" alone (s'il te plaît, or STOP missing a letter?), "Sto p" (STOP split in two)."""
    words = [word for clause in _clauses(folded) for word in clause]
    if words and set(words) <= {"stp", "stpp"}:
        return f"contains '{words[0]}' alone"
    pieces = [word for word in words if word not in _COURTESY]
    if len(pieces) > 1 and _PLAIN_STOP.fullmatch("".join(pieces)):
        return f"contains '{' '.join(pieces)}' (a split stop)"
    return None
