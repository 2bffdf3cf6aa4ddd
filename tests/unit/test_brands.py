"""Brands and the scope of a reply (contract §4): pure rules, table-driven."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stopsms.inbound.answers import confirmation_text, help_text
from stopsms.models import CampaignRequest, ConsentRecord
from stopsms.rules.brands import (
    EVERY_BRAND,
    Answered,
    BrandMapError,
    Target,
    brands_of_number,
    canonical_brand,
    number_key,
    parse_brand_map,
    reply_numbers,
    target,
)


@pytest.mark.parametrize(
    ("written", "canonical"),
    [
        ("acme", "acme"),
        ("Acme", "acme"),
        ("ACME ", "acme"),
        ("  Acme France ", "acme france"),
        ("ＡＣＭＥ", "acme"),  # fullwidth letters
        ("Straße", "strasse"),
        ("Société Générale", "société générale"),
        # Invisible or blank code points make no other brand (second adversarial pass).
        ("ac\u00adme", "acme"),  # soft hyphen
        ("acme\ufe0f", "acme"),  # variation selector
        ("ac\u034fme", "acme"),  # combining grapheme joiner
        ("acme\u3164", "acme"),  # Hangul filler
        ("\u2800acme", "acme"),  # Braille blank
        ("Acme\u00a0  France", "acme france"),  # blanks of any kind and number are one space
    ],
)
def test_every_spelling_of_a_brand_is_one_brand(written: str, canonical: str) -> None:
    assert canonical_brand(written) == canonical


@pytest.mark.parametrize(
    "bad",
    ["", "   ", "\u2800", "*", "*acme", "﹡acme", "a" * 65, "ac\x00me", "ac\u2028me", "ac\u2029me"],
)
def test_names_that_cannot_be_a_brand_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="brand name"):
        canonical_brand(bad)


def test_the_contract_models_store_brands_canonical() -> None:
    base = {"campaign_id": "c", "category": "marketing", "body": "x", "recipients": ["0612345678"]}
    assert CampaignRequest.model_validate({**base, "brand": " ACME"}).brand == "acme"
    record = ConsentRecord.model_validate(
        {
            "action": "opt_in",
            "phone": "0612345678",
            "brand": "Acme",
            "source": "web",
            "captured_at": "2026-11-20T14:03:00+01:00",
        }
    )
    assert record.brand == "acme"


@given(st.text(min_size=1, max_size=40))
def test_canonical_is_idempotent(name: str) -> None:
    try:
        once = canonical_brand(name)
    except ValueError:
        return
    assert canonical_brand(once) == once


@pytest.mark.parametrize(
    ("written", "key"),
    [
        ("36111", "36111"),
        ("36 111", "36111"),
        ("36.111", "36111"),
        ("+33700000001", "+33700000001"),
        ("07 00 00 00 01", "+33700000001"),
        ("0033700000001", "+33700000001"),
        ("+44 7700 900123", "+447700900123"),
    ],
)
def test_a_number_has_one_key_whatever_its_spelling(written: str, key: str) -> None:
    assert number_key(written) == key


def test_the_deployment_map_lists_several_brands_per_number() -> None:
    assert parse_brand_map("36111=Acme, 36 111=globex,+33700000001=initech,") == {
        "36111": frozenset({"acme", "globex"}),
        "+33700000001": frozenset({"initech"}),
    }


@pytest.mark.parametrize("spec", ["36111", "acme=36111", "36111=*", "36111=", "=acme", "3=acme"])
def test_a_malformed_deployment_map_is_refused(spec: str) -> None:
    with pytest.raises(BrandMapError):
        parse_brand_map(spec)


ACME_CAMPAIGN = Answered("soldes", "acme", "fr")
ENGLISH_CAMPAIGN = Answered("sales", "globex", "en")


@pytest.mark.parametrize(
    ("answered", "number_brands", "every_brand", "expected"),
    [
        # 1. the campaign answered decides, whatever the number's other brands
        (ACME_CAMPAIGN, {"globex"}, False, Target(("acme",), "acme", "fr", "campaign", "soldes")),
        (ENGLISH_CAMPAIGN, set(), False, Target(("globex",), "globex", "en", "campaign", "sales")),
        # STOPALL answering a campaign: every brand, named none, still counted on it
        (ACME_CAMPAIGN, set(), True, Target(("*",), None, "fr", "every_brand", "soldes")),
        # 2. every brand known to use the number
        (None, {"acme"}, False, Target(("acme",), "acme", "fr", "stop_number")),
        (None, {"globex", "acme"}, False, Target(("acme", "globex"), None, "fr", "stop_number")),
        # 3. nobody known: every brand, never a phantom
        (None, set(), False, Target(("*",), None, "fr", "unknown")),
        (None, {"acme"}, True, Target(("*",), None, "fr", "every_brand")),
    ],
)
def test_which_brands_a_reply_concerns(
    answered: Answered | None, number_brands: set[str], every_brand: bool, expected: Target
) -> None:
    assert target(answered=answered, number_brands=number_brands, every_brand=every_brand) == (
        expected
    )


@given(
    st.one_of(st.none(), st.builds(Answered, st.sampled_from(["c1", "c2"]), st.text(min_size=1))),
    st.sets(st.sampled_from(["acme", "globex", "initech"])),
    st.booleans(),
)
def test_a_reply_never_concerns_a_brand_that_did_not_write(
    answered: Answered | None, number_brands: set[str], every_brand: bool
) -> None:
    about = target(answered=answered, number_brands=number_brands, every_brand=every_brand)
    writers = {answered.brand} if answered else number_brands
    assert set(about.scopes) <= writers | {EVERY_BRAND}
    assert "default" not in about.scopes or "default" in writers
    if about.named is not None:
        assert about.named in writers


def test_brands_of_a_number_join_the_deployment_map_and_the_campaigns() -> None:
    deployment = parse_brand_map("36111=acme")
    assert brands_of_number("36 111", deployment, {"globex"}) == {"acme", "globex"}
    assert brands_of_number("38000", deployment, set()) == frozenset()


@pytest.mark.parametrize(
    ("stop_number", "origination", "numbers"),
    [
        ("36111", None, {"36111"}),
        ("36111", "+33700000001", {"36111", "+33700000001"}),
        (None, "0700000001", {"+33700000001"}),
        ("36111", "ACME", {"36111"}),  # a sender ID receives no replies
        ("36111", "arn:aws:sms-voice:eu-west-3:1:pool/pool-1", {"36111"}),
        (None, None, set()),
    ],
)
def test_the_numbers_people_reply_to_about_a_campaign(
    stop_number: str | None, origination: str | None, numbers: set[str]
) -> None:
    assert reply_numbers(stop_number, origination) == numbers


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            confirmation_text("acme"),
            "Vous ne recevrez plus de SMS de acme. START pour vous réabonner.",
        ),
        (confirmation_text(None), "Vous ne recevrez plus nos SMS. START pour vous réabonner."),
        (
            confirmation_text("acme", "en"),
            "You will no longer receive SMS from acme. Reply START to subscribe again.",
        ),
        (
            confirmation_text(None, "en"),
            "You will no longer receive SMS from us. Reply START to subscribe again.",
        ),
        (
            help_text("acme", "36111"),
            "acme : SMS d'information et offres de acme. Pour ne plus les recevoir, répondez "
            "STOP au 36111.",
        ),
        (
            help_text(None, "36111"),
            "SMS d'information et offres. Pour ne plus les recevoir, répondez STOP au 36111.",
        ),
        (
            help_text("acme", "36111", "en"),
            "acme: information and offers by SMS. To stop receiving them, reply STOP to 36111.",
        ),
    ],
)
def test_answers_name_the_brand_that_wrote_or_none(text: str, expected: str) -> None:
    assert text == expected
