"""The SMS StopSMS answers a person with: the opt-out confirmation and the HELP answer. Pure.

Each names the brand that wrote (``brands.Target.named``), or no brand when the reply
concerns several or an unknown one, in the language of the campaign answered (French when
unknown). They are TRANSACTIONAL messages: they carry no STOP mention of their own.
"""

from __future__ import annotations

from stopsms.rules.brands import Language

__all__ = ["confirmation_text", "help_text"]


def confirmation_text(brand: str | None, language: Language = "fr") -> str:
    """Sent once after an opt-out is recorded."""
    if language == "en":
        who = f"from {brand}" if brand else "from us"
        return f"You will no longer receive SMS {who}. Reply START to subscribe again."
    who = f"de SMS de {brand}" if brand else "nos SMS"
    return f"Vous ne recevrez plus {who}. START pour vous réabonner."


def help_text(brand: str | None, number: str, language: Language = "fr") -> str:
    """The answer to HELP / AIDE / INFO: who writes, and how to stop."""
    if language == "en":
        what = (
            f"{brand}: information and offers by SMS" if brand else "Information and offers by SMS"
        )
        return f"{what}. To stop receiving them, reply STOP to {number}."
    generic = "SMS d'information et offres"
    what = f"{brand} : {generic} de {brand}" if brand else generic
    return f"{what}. Pour ne plus les recevoir, répondez STOP au {number}."
