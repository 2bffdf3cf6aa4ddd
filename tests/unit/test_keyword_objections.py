"""Two general rules, over generated replies: "stop" as a noun, and the words of an objection.

The table in test_reply_table.py holds the real-looking examples; these properties check that
the rules hold whatever the words around them.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from stopsms.rules.keywords import Intent, classify, review_reason

OUT = Intent.OPT_OUT

# Words that make "stop" a noun right after them.
NOUN_MARKERS = [
    *("the", "a", "this", "that", "which", "what", "my", "your", "next", "last", "first"),
    *("closest", "nearest", "bus", "train", "tram", "at"),
]
# Words a question about a bus stop may start or end with; none is an opt-out word.
QUESTION = st.lists(
    st.sampled_from(["where", "is", "how", "far", "ok", "hi", "please", "near", "here", "?"]),
    max_size=4,
)


@given(before=QUESTION, marker=st.sampled_from(NOUN_MARKERS), after=QUESTION)
def test_stop_as_a_noun_is_never_applied_but_reviewed(
    before: list[str], marker: str, after: list[str]
) -> None:
    text = " ".join(["hi", *before, marker, "stop", *after])  # "hi": stop is never first
    result = classify(text)
    assert result.intent is None
    assert review_reason(text, result) is not None


@given(
    polite=st.sampled_from(["", "please ", "ok ", "merci ", "Can you "]),
    determiner=st.sampled_from(["the", "these", "your", "all the", "those"]),
    thing=st.sampled_from(["messages", "texts", "SMS", "spam", "promos"]),
)
def test_stop_followed_by_what_is_sent_stays_the_verb(
    polite: str, determiner: str, thing: str
) -> None:
    assert classify(f"{polite}stop {determiner} {thing}").intent is OUT


# Objections that name no keyword, and words that may surround them.
OBJECTIONS = [
    "Cessez de m'envoyer des SMS",
    "cessez vos envois",
    "Je m'oppose à la réception de vos SMS",
    "je m'oppose au traitement de mes données",
    "J'exerce mon droit d'opposition",
    "Je refuse de recevoir vos SMS",
    "je retire mon consentement",
    "I object to your texts",
    "I refuse to receive your messages",
    "cease sending me texts",
    "I withdraw my consent",
]
COURTESY = st.sampled_from(["", "Bonjour, ", "Hello. ", "Merci. ", "ok "])
SIGN_OFF = st.sampled_from(["", " svp", " merci", ", thanks", " !", "."])


@given(reply=st.sampled_from(OBJECTIONS), before=COURTESY, after=SIGN_OFF)
def test_objections_without_a_keyword_are_applied(reply: str, before: str, after: str) -> None:
    text = f"{before}{reply}{after}"
    assert classify(text).intent is OUT
    assert classify(text).keyword == "objection"


# Every word that says "objection", and words (negations, other objects) that keep a reply
# containing one from being applied.
OBJECTION_WORDS = ["m'oppose", "opposition", "objection", "I object", "consentement", "consent"]
AROUND = st.lists(
    st.sampled_from(
        [
            *("je", "ne", "pas", "aucune", "no", "not", "never", "la", "hausse", "des", "prix"),
            *("à", "to", "the", "price", "ma", "carte", "sur", "mon", "my", "vos", "SMS"),
        ]
    ),
    max_size=5,
)


@given(before=AROUND, word=st.sampled_from(OBJECTION_WORDS), after=AROUND)
def test_an_objection_word_is_applied_or_reviewed(
    before: list[str], word: str, after: list[str]
) -> None:
    text = " ".join([*before, word, *after])
    result = classify(text)
    assert result.intent is OUT or review_reason(text, result) is not None


# STOP starting a name: glued by any dash to a word that is no tail, or "&"/"or"/"ou" and one
# word that ends the clause or a question. Never applied, even as the first word; reviewed.
@given(
    before=st.sampled_from(["", "hi ", "Le ", "c'est où le "]),
    dash=st.sampled_from(["-", "\u2010", "\u2013", "\u2014", "--"]),
    suffix=st.sampled_from(["over", "and-go", "motion", "or-go", "shop", "car"]),
    after=st.sampled_from(["", " ?", " à Paris ?", " c'est où ?"]),
)
def test_stop_glued_by_a_hyphen_to_a_name_is_never_applied_but_reviewed(
    before: str, dash: str, suffix: str, after: str
) -> None:
    text = f"{before}Stop{dash}{suffix}{after}"
    result = classify(text)
    assert result.intent is None
    assert review_reason(text, result) is not None


@given(
    before=st.sampled_from(["", "hi ", "Le "]),
    coordinator=st.sampled_from(["&", "and", "or", "ou", "+"]),
    name=st.sampled_from(["Go", "encore", "Shop", "Drive"]),
    after=st.sampled_from(["", " ?", " c'est où ?", " is it open?"]),
)
def test_stop_and_a_word_as_a_name_is_never_applied_but_reviewed(
    before: str, coordinator: str, name: str, after: str
) -> None:
    text = f"{before}Stop {coordinator} {name}{after}"
    result = classify(text)
    assert result.intent is None
    assert review_reason(text, result) is not None


@given(
    coordinator=st.sampled_from(["&", "and", "or", "ou"]),
    going_on=st.sampled_from(["I'll sue", "je porte plainte", "else", "merci", "leave me alone"]),
)
def test_stop_and_a_sentence_going_on_stays_an_opt_out(coordinator: str, going_on: str) -> None:
    assert classify(f"Stop {coordinator} {going_on}").intent is OUT


# Something else that stops: a question about when, or about a sale; "arrêter de" + another
# verb. Reviewed, never applied, unless the clause names the messages or reaching me.
FR_QUESTIONS = [
    "Vous arrêtez quand {} ?",
    "Quand arrêtez-vous {} ?",
    "À quelle heure arrêtez-vous {} ?",
]
FR_THINGS = ["la promo", "les soldes", "le magasin", "ce produit", "l'offre", "la vente"]
EN_QUESTIONS = ["When does {} stop?", "Does {} stop tomorrow?", "What time does {} stop?"]
EN_THINGS = ["the sale", "the offer", "the shop", "the promo", "the event", "the deal"]


@given(
    question=st.one_of(
        st.tuples(st.sampled_from(FR_QUESTIONS), st.sampled_from(FR_THINGS)),
        st.tuples(st.sampled_from(EN_QUESTIONS), st.sampled_from(EN_THINGS)),
    ),
    before=st.sampled_from(["", "Bonjour, ", "Hi! ", "ok "]),
)
def test_a_question_about_something_else_stopping_is_never_applied_but_reviewed(
    question: tuple[str, str], before: str
) -> None:
    template, thing = question
    text = before + template.format(thing)
    result = classify(text)
    assert result.intent is None
    assert review_reason(text, result) is not None


@given(
    template=st.sampled_from(
        ["Vous arrêtez quand de {} ?", "Quand est-ce que vous arrêtez de {} ?", "Arrêtez de {}"]
    ),
    sent=st.sampled_from(["m'envoyer des SMS", "m'écrire", "me contacter", "me spammer"]),
)
def test_stopping_the_messages_stays_an_opt_out_in_a_question(template: str, sent: str) -> None:
    assert classify(template.format(sent)).intent is OUT


@given(sent=st.sampled_from(["texting me", "sending me messages", "messaging me", "the texts"]))
def test_stopping_the_messages_stays_an_opt_out_in_an_english_question(sent: str) -> None:
    assert classify(f"When will you stop {sent}?").intent is OUT


@given(
    verb=st.sampled_from(["Arrêtez", "arrête", "Arrêter", "Stoppez"]),
    other=st.sampled_from(
        ["me faire rêver avec ces prix", "mentir", "baisser les prix", "vous moquer de moi"]
    ),
    after=st.sampled_from(["", " !", " lol", " 😂"]),
)
def test_arreter_de_and_another_verb_is_never_applied_but_reviewed(
    verb: str, other: str, after: str
) -> None:
    text = f"{verb} de {other}{after}"
    result = classify(text)
    assert result.intent is None
    assert review_reason(text, result) is not None
