"""Segments billed: what French marketing texts cost per recipient, with and without smart encoding.

Each text of :data:`TEXTS` (sales, promo codes, loyalty, restaurants: accents, curly
apostrophes ’, guillemets « », the euro sign €, non-breaking spaces, emoji, lengths near 160
and 320 characters) is composed as a marketing SMS by ``stopsms.rules.mention.compose`` (the STOP
mention appended, ``stop_number`` 36111, French), once with ``smart_encoding=False`` and once
with ``smart_encoding=True``. For each, the segments billed per recipient are reported, and:

* **minimum**: the segments of the same final text (body + STOP mention) if every character
  were GSM-7 after transliteration: the smart-encoding replacements applied (’ → ', « → ",
  … → ..., ê → e, œ → oe...), then every character still outside GSM-7 (an emoji, ç) counted
  as one GSM-7 character (septet), and extension characters (€ [ ] | ~) as the two septets they
  cost. No encoding can bill fewer segments for the text without changing its words.
* **saving**: segments without smart encoding over segments with it, summed over the texts.

Targets are informative, except that smart encoding never bills more segments than without it
(text by text).
"""

from __future__ import annotations

import sys

from benchmarks.figures import Figure, print_table

SECTION = "Segments billed"
PER_TEXT = "Segments billed per text (value: with smart encoding)"
STOP_NUMBER = "36111"

# (name, body): realistic marketing texts as upstream systems send them (after personalisation).
TEXTS: tuple[tuple[str, str], ...] = (
    (
        "soldes-ascii",
        "SOLDES d'hiver chez Acme : -50% sur une sélection d'articles jusqu'au 31/01. "
        "Profitez-en vite en magasin ou sur acme.fr",
    ),
    (
        "soldes-typo",
        "SOLDES d’hiver chez Acme\u00a0: -50\u00a0% sur une sélection d’articles jusqu’au "
        "31/01. Profitez-en vite en magasin ou sur acme.fr",
    ),
    (
        "code-promo-euro",
        "Léa, votre code promo BIENVENUE10 vous offre 10 € sur votre 1ère commande ! "
        "Valable jusqu’au 15 mars sur acme.fr",
    ),
    ("black-friday-emoji", "🎉 Black Friday ! -30 % sur tout le site avec le code BF30 ✨"),
    (
        "vip-guillemets",
        "Offre « VIP » : livraison offerte dès 49 € d’achat – ce week-end seulement…",
    ),
    (
        "cedille",
        "Découvrez notre nouvelle collection printemps-été, façonnée en France : "
        "-20 % avec le code PRINTEMPS",
    ),
    (
        "fete-des-meres",
        "Fête des mères : offrez-lui un bouquet dès 29,90 €. Livraison gratuite avec le code "
        "MAMAN jusqu’à dimanche.",
    ),
    ("noel", "Noël approche ! Jusqu'à -40 % sur les jouets. Rendez-vous dans votre magasin Acme."),
    (
        "rentree-circonflexe",
        "Rentrée scolaire : 2 cahiers achetés = 1 offert ! Hâtez-vous, offre valable dans la "
        "limite des stocks disponibles…",
    ),
    ("derniere-chance-emoji", "Dernière chance 🔥 : -70 % sur les fins de séries, ce soir minuit."),
    (
        "fidelite-nnbsp",
        "Votre carte fidélité expire bientôt : utilisez vos 1\u202f250 points avant le 30/06 "
        "sur acme.fr/fidelite",
    ),
    (
        "restaurant",
        "Chez Mario ce soir : pizza achetée = dessert offert ! Réservez au 01 23 45 67 89.",
    ),
    ("saint-valentin-emoji", "Saint-Valentin 💝 Menu spécial à 59 € pour deux, réservez vite !"),
    (
        "oenologie-ligature",
        "Œnologie : dégustation gratuite samedi de 10h à 18h, 1 bouteille achetée = la 2e à "
        "-50 %. Caviste Acme, 12 rue du Marché.",
    ),
    (
        "extension-chars",
        "Code promo [ETE24] : -15 % | livraison offerte dès 30 € ~ jusqu'au 31/08 sur acme.fr",
    ),
    (
        "near-160-ascii",
        "Acme Mode : ce week-end seulement, -30% sur toute la collection automne et la "
        "livraison offerte des 50 euros d'achat. Code AUTOMNE30 sur acme.fr",
    ),
    (
        "near-160-typo",
        "Acme Mode : ce week-end seulement, -30\u00a0% sur toute la collection automne et la "
        "livraison offerte dès 50\u00a0€ d’achat. Code AUTOMNE30 sur acme.fr",
    ),
    (
        "near-320-typo",
        "Chère cliente, cher client, les « Jours Acme » sont de retour ! Du jeudi au dimanche, "
        "profitez de -20\u00a0% sur l’électroménager, -30\u00a0% sur la literie et d’une "
        "remise supplémentaire de 10\u00a0€ dès 100\u00a0€ d’achat avec le code JOURS10. "
        "Offres valables en magasin et sur acme.fr – voir conditions en boutique.",
    ),
    (
        "near-320-bio",
        "Nouveauté : notre gamme bio arrive ! Goûtez nos confitures, miels et pâtes à "
        "tartiner fabriqués dans le Sud-Ouest. Pour fêter ça, un pot offert pour 3 achetés "
        "du 2 au 9 avril, et une dégustation samedi dans votre épicerie Acme de 10h à 13h. "
        "À très vite !",
    ),
    (
        "long-emoji",
        "🌞 L’été est là ! Maillots, sandales, lunettes : jusqu’à -50 % sur toute la "
        "collection plage. Livraison offerte dès 39 € et retours gratuits pendant 30 jours. "
        "Code SOLEIL sur acme.fr 🏖️",
    ),
)


def minimum_segments(text: str) -> int:
    """Segments of ``text`` if every character were GSM-7 after transliteration."""
    from stopsms.rules.encoding import (
        GSM7_BASIC,
        GSM7_EXTENSION,
        SMART_REPLACEMENTS,
        count_segments,
    )

    table: dict[str, str | int | None] = dict(SMART_REPLACEMENTS)
    transliterated = text.translate(str.maketrans(table))
    gsm7 = "".join(ch if ch in GSM7_BASIC or ch in GSM7_EXTENSION else "?" for ch in transliterated)
    return count_segments(gsm7).segments


def measure(quick: bool = False) -> list[Figure]:
    from stopsms.rules.mention import compose

    texts = TEXTS[:5] if quick else TEXTS
    rows = []
    for name, body in texts:
        plain, smart = (
            compose(body, marketing=True, language="fr", stop_number=STOP_NUMBER, smart_encoding=s)
            for s in (False, True)
        )
        rows.append((name, len(plain.text), plain, smart, minimum_segments(plain.text)))
    without = sum(plain.segments for _, _, plain, _, _ in rows)
    with_smart = sum(smart.segments for _, _, _, smart, _ in rows)
    minimum = sum(low for *_, low in rows)
    worse = [name for name, _, plain, smart, _ in rows if smart.segments > plain.segments]
    saved = sum(1 for _, _, plain, smart, _ in rows if smart.segments < plain.segments)
    count = len(rows)
    figures = [
        Figure(SECTION, "texts (each composed with its STOP mention)", count, ""),
        Figure(SECTION, "segments per recipient, all texts, smart encoding off", without, "seg"),
        Figure(SECTION, "segments per recipient, all texts, smart encoding on", with_smart, "seg"),
        Figure(SECTION, "segments per recipient, all texts, minimum", minimum, "seg"),
        Figure(SECTION, "average per text, smart encoding off", without / count, "seg"),
        Figure(SECTION, "average per text, smart encoding on", with_smart / count, "seg"),
        Figure(SECTION, "average per text, minimum", minimum / count, "seg"),
        Figure(SECTION, "saving: segments off / on", without / with_smart, "×"),
        Figure(SECTION, "smart encoding on / minimum", with_smart / minimum, "×"),
        Figure(SECTION, "texts made cheaper by smart encoding", saved, "texts"),
        Figure(
            SECTION,
            "texts costing more with smart encoding",
            len(worse),
            "texts",
            "0",
            not worse,
        ),
    ]
    for name, length, plain, smart, low in rows:
        label = (
            f"{name} ({length} chars with mention, {plain.encoding} → {smart.encoding}): "
            f"off {plain.segments}, min {low}"
        )
        figures.append(
            Figure(
                PER_TEXT, label, smart.segments, "seg", "≤ off", smart.segments <= plain.segments
            )
        )
    return figures


if __name__ == "__main__":
    print_table(measure(quick="--quick" in sys.argv))
