"""Pure compute per message: the sender's stage 1 and stage 3, without any I/O.

Times exactly the calls ``SendBatch._parse`` and ``SendBatch._decide`` make for one marketing
job (parse, normalise, render + compose, consent decision + sending window), in that order,
over many distinct messages: French numbers in the formats people type, overseas (DOM) and
foreign numbers, personalised bodies with varying first names and a few plain ones. Distinct
numbers matter: a cache keyed on the number alone would otherwise flatter the figure.

The baseline, measured message by message in the same run on the same bodies, is
``json.loads``: it tells how fast (and how busy) the machine is, so the ratio travels better
than the absolute figure.

Run alone: ``PYTHONPATH=layers/stopsms:. python -m benchmarks.compute``.
"""

from __future__ import annotations

import json
import random
import statistics
import time
from datetime import UTC, datetime

from benchmarks.figures import Figure, print_table
from stopsms.errors import InvalidPhoneNumber
from stopsms.models import SendJob
from stopsms.rules.eligibility import OPTED_IN, Preference, latest, marketing_block
from stopsms.rules.mention import compose
from stopsms.rules.personalise import render
from stopsms.rules.phones import normalize
from stopsms.rules.window import SendingWindow, is_open

SECTION = "Pure compute per message"
TARGET_US = 50.0
MESSAGES, QUICK_MESSAGES, WARMUP_MESSAGES = 100_000, 10_000, 2_000

WINDOW = SendingWindow.parse("Mon-Sat 08:00-20:00 holidays")
AT = datetime(2026, 3, 10, 9, 30, tzinfo=UTC)  # a Tuesday, 10:30 in Paris
CONSENT = Preference(OPTED_IN, datetime(2025, 6, 1, tzinfo=UTC))
STOP_NUMBER = "36111"  # the deployment's default, as in Settings
SMART_ENCODING = True

# Personalised bodies carry a per-recipient value (code, points) besides the first name, so
# that their texts are nearly all distinct; the two plain ones are the same for everyone.
BODIES = (
    "Bonjour {first_name}, -20% sur toute la boutique ce week-end avec le code {code} ! "
    "Rendez-vous sur acme.fr",
    "{first_name}, l’offre « printemps » se termine dimanche… Vos {points} points valent "
    "{euros} € en magasin.",
    "Ventes privées : jusqu’à -50% dès demain 9h sur acme.fr",
    "Nouvelle collection en boutique dès samedi. À très vite !",
)
CODE_CHARACTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
NAMES = (
    "Marie", "Jean", "Élodie", "Jérôme", "Chloé", "Zoë", "Françoise", "Noël", "Léa", "Hugo",
    "Anaïs", "Gaëlle", "Maëlys", "Thomas", "Inès", "Camille", "Océane", "Benoît", "Loïc", "Amir",
)  # fmt: skip
FRENCH_FORMATS = ("+33{n}", "0{n}", "0{spaced}", "0033{n}", "+33 {spaced}", "0{dotted}")
DOM_PREFIXES = ("690", "691", "696", "697", "694", "692", "693", "639")


def _french(rng: random.Random) -> str:
    nsn = rng.choice("67") + "".join(rng.choices("0123456789", k=8))
    spaced = " ".join([nsn[0], *(nsn[i : i + 2] for i in range(1, 9, 2))])
    return rng.choice(FRENCH_FORMATS).format(n=nsn, spaced=spaced, dotted=spaced.replace(" ", "."))


def _dom(rng: random.Random) -> str:
    digits = rng.choice(DOM_PREFIXES) + "".join(rng.choices("0123456789", k=6))
    return rng.choice(("0{d}", "0{d2} {d4}")).format(d=digits, d2=digits[:3], d4=digits[3:])


def _foreign(rng: random.Random) -> str:
    if rng.random() < 0.5:
        return "+447" + rng.choice("45789") + "".join(rng.choices("0123456789", k=8))
    area = rng.choice(("212", "415", "617", "312", "305"))
    return f"+1 {area} {rng.randint(200, 999)} {rng.randint(0, 9999):04d}"


def _phone(rng: random.Random) -> str:
    draw = rng.random()
    maker = _french if draw < 0.85 else _dom if draw < 0.93 else _foreign
    while True:  # only valid numbers: the invalid path is not the one worth timing
        raw = maker(rng)
        try:
            normalize(raw)
        except InvalidPhoneNumber:
            continue
        return raw


def make_bodies(count: int, seed: int) -> list[str]:
    """``count`` JSON send jobs, as the fan-out queues them, each to a distinct number."""
    rng = random.Random(seed)
    seen: set[str] = set()
    jobs: list[str] = []
    while len(jobs) < count:
        phone = _phone(rng)
        if phone in seen:
            continue
        seen.add(phone)
        body = rng.choices(BODIES, weights=(5, 3, 1, 1))[0]
        job = {
            "campaign_id": "spring-2026",
            "seq": len(jobs),
            "phone": phone,
            "vars": {
                "first_name": rng.choice(NAMES),
                "code": "".join(rng.choices(CODE_CHARACTERS, k=6)),
                "points": (points := rng.randint(10, 9999)),
                "euros": points // 100,
            },
            "category": "marketing",
            "brand": "acme",
            "language": "fr",
            "body": body,
            "stop_number": STOP_NUMBER if rng.random() < 0.5 else None,
        }
        jobs.append(json.dumps(job, ensure_ascii=False))
    return jobs


def _time_one(body: str) -> tuple[int, int, int, int]:
    """Nanoseconds of (parse, normalize, render+compose, decide) for one job."""
    clock = time.perf_counter_ns
    t0 = clock()
    spec = SendJob.model_validate_json(body)
    t1 = clock()
    phone = normalize(spec.phone)
    t2 = clock()
    compose(
        render(spec.body, spec.vars),
        marketing=spec.category.is_marketing,
        language=spec.language,
        stop_number=spec.stop_number or STOP_NUMBER,
        max_segments=spec.max_segments,
        smart_encoding=SMART_ENCODING,
    )
    t3 = clock()
    block = marketing_block(CONSENT, latest(None, None), enforce_consent=True)
    if block is None:
        is_open(WINDOW, AT, phone)
    t4 = clock()
    return t1 - t0, t2 - t1, t3 - t2, t4 - t3


def _time_baseline(body: str) -> int:
    clock = time.perf_counter_ns
    t0 = clock()
    json.loads(body)
    return clock() - t0


def _us(values: list[int], quantile: float = 0.5) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(quantile * len(ordered)))] / 1000


def measure(quick: bool = False) -> list[Figure]:
    """Time the per-message path over distinct messages (warm caches, as in a warm Lambda)."""
    count = QUICK_MESSAGES if quick else MESSAGES
    for body in make_bodies(WARMUP_MESSAGES, seed=1):  # other numbers than the measured ones
        _time_one(body)
    stages: list[tuple[int, int, int, int]] = []
    baselines: list[int] = []
    for body in make_bodies(count, seed=2):  # interleaved: both see the same machine load
        stages.append(_time_one(body))
        baselines.append(_time_baseline(body))
    totals = [sum(stage) for stage in stages]
    baseline = statistics.median(baselines) / 1000
    median = _us(totals)
    figures = [
        Figure(SECTION, "median per message", median, "µs", f"≤ {TARGET_US:g} µs",
               median <= TARGET_US, key="compute_us_median"),
        Figure(SECTION, "p99 per message", _us(totals, 0.99), "µs"),
        Figure(SECTION, "baseline: json.loads of the job (median)", baseline, "µs"),
        Figure(SECTION, "median / baseline", median / baseline if baseline else 0.0, "×"),
    ]  # fmt: skip
    for index, name in enumerate(("parse", "normalize", "render + compose", "decide")):
        figures.append(Figure(SECTION, f"median {name}", _us([s[index] for s in stages]), "µs"))
    return figures


if __name__ == "__main__":
    print_table(measure())
