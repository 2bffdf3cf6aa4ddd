"""The scripted demonstration behind ``make demo``: the whole pipeline on the local stack.

It plays a day in the life of a French retailer, "acme": consents are imported, a marketing
campaign goes to a few thousand people (some numbers invalid, duplicated or without consent),
a campaign whose file is broken is refused having sent nothing and goes out once fixed, some
people reply STOP in the ways people really write it (and one reply waits for a human), a
second campaign no longer reaches them, a transactional message still does, and someone asks
for HELP.
"""

from __future__ import annotations

import csv
import io
import json
import random
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from stopsms.dal import campaigns
from stopsms.dal.tables import bind
from stopsms.emulator.stack import EmulatedStack
from stopsms.ops import replies_to_review
from stopsms.reporting import render_table, report
from stopsms.rules.phones import mask, redact
from stopsms.settings import get_settings

# moto's emulated SQS costs O(queue depth) per message: a thousand recipients keeps the whole
# demo around a minute on 2 cores (``--audience`` changes it).
AUDIENCE = 1000
STOP_REPLIES = [
    "STOP",
    "Stop merci",
    "arrêt",
    "S.T.O.P",
    "Merci de ne plus m'envoyer de SMS",
    "Désabonnez-moi",
    "  «Stop»",
]
UNCLEAR_REPLY = "Je ne veux pas arrêter, mais moins souvent svp"  # a human decides
# The demo must run at any hour: the legal window is opened around the clock here only.
DEMO_WINDOW = "Mon-Sun 00:00-23:59 no-holidays"
# Who acts, with the template's managed policies: upstream systems publish, operators report.
PUBLISHER, OPERATOR = "PublisherPolicy", "OperatorPolicy"
# A long step says how far it is at least this often (CI logs and people see it move).
PROGRESS_EVERY_S = 3.0
HTML_REPORT = Path("demo-report.html")


def _step(title: str) -> float:
    print(f"\n== {title}", flush=True)
    return time.monotonic()


def _done(started: float, detail: str = "") -> None:
    print(f"   done in {time.monotonic() - started:.1f}s {detail}", flush=True)


class _Progress:
    """A line at least every PROGRESS_EVERY_S seconds while a step runs, saying how long and
    how far. A heartbeat thread speaks when nothing was said for that long: the stack is
    pumped as it always is (in passes over every queue: feeding it one invocation at a time
    made the demo 50 % slower), and a single invocation can take long (the receipts
    function reads 500 events at a time). ``say`` runs on that thread, so it reads only the
    fake endpoint's outbox, never AWS (IAM is enforced per invocation on the main thread)."""

    def __init__(self, say: Callable[[], str]) -> None:
        self.say = say
        # A quiet stack points sys.stdout elsewhere while a function runs: the heartbeat
        # writes where the demo's own lines go.
        self.out = sys.stdout
        self.started = self.last = time.monotonic()
        self.lock = threading.Lock()
        self.finished = threading.Event()
        self.heartbeat = threading.Thread(target=self._beat, daemon=True)

    def __enter__(self) -> _Progress:
        self.heartbeat.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.finished.set()
        self.heartbeat.join()

    def tick(self, text: str) -> None:
        """Say ``text`` now (from the main thread), unless a line was said just before."""
        if time.monotonic() - self.last >= PROGRESS_EVERY_S:
            self._say(text)

    def _beat(self) -> None:
        while not self.finished.wait(PROGRESS_EVERY_S / 3):
            if time.monotonic() - self.last >= PROGRESS_EVERY_S:
                self._say(self.say())

    def _say(self, text: str) -> None:
        with self.lock:
            self.last = time.monotonic()
            print(f"   ... {self.last - self.started:.0f}s: {text}", file=self.out, flush=True)


def _settle(stack: EmulatedStack, waiting_for: str, say: Callable[[], str] | None = None) -> None:
    """``stack.pump()`` that says what it waits for, then how far it is every few seconds
    (``say``: the outbox, see _Progress)."""
    print(f"   waiting for {waiting_for}...", flush=True)
    with _Progress(say or (lambda: f"still working ({len(stack.sms.outbox)} SMS sent so far)")):
        stack.pump()


def _depth(stack: EmulatedStack, queue: str) -> int:
    """Messages of a queue, visible or being processed."""
    attributes = stack.client("sqs").get_queue_attributes(
        QueueUrl=stack.queue(queue),
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return sum(int(value) for value in attributes.values())


def _sending(stack: EmulatedStack, before: int) -> Callable[[], str]:
    """How far a campaign is: the SMS sent since the outbox held ``before`` (the step ends
    once their delivery receipts are in)."""
    return lambda: f"{len(stack.sms.outbox) - before} SMS sent (then their delivery receipts)"


def _queues_line(counts: dict[str, int]) -> str:
    return ", ".join(f"{name} {count}" for name, count in sorted(counts.items()))


def _audience(rng: random.Random, size: int) -> tuple[str, list[str]]:
    """A CSV audience: mostly valid mobiles in many formats, a few invalid and duplicated."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["phone", "first_name"])
    phones: list[str] = []
    for n in range(size):
        digits = f"6{10_000_000 + n:08d}"
        e164 = f"+33{digits}"
        style = n % 3
        shown = [
            e164,
            f"0{digits}",
            f"0{digits[0]} {digits[1:3]} {digits[3:5]} {digits[5:7]} {digits[7:]}",
        ][style]
        if n % 250 == 7:
            shown = "06 12"  # invalid
        writer.writerow([shown, rng.choice(["Léa", "Tom", "Inès", "Hugo", "Chloé", "Nathan"])])
        phones.append(e164)
        if n % 300 == 11:  # the same person twice, written differently
            writer.writerow([f"+33 {digits[0]} {digits[1:]}", "Tom"])
    return out.getvalue(), phones


def _batches(items: list[Any], size: int = 10) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _publish(stack: EmulatedStack, queue: str, bodies: list[dict[str, Any]]) -> None:
    """Publish in batches of 10 as a publisher would (``PublisherPolicy``), letting the
    functions keep up (as Lambda would)."""
    sqs = stack.client("sqs")
    if len(bodies) > 200:  # a long step: say what it does, then how far it is
        print(f"   publishing {len(bodies)} messages to {queue}, the functions keeping up...")
    published = 0  # read by the heartbeat thread (an int: read whole)

    def publishing() -> str:
        return f"{published} of {len(bodies)} published, the functions keeping up"

    with _Progress(publishing) as progress:
        for number, chunk in enumerate(_batches(bodies), start=1):
            with stack.acting_as(PUBLISHER):
                sqs.send_message_batch(
                    QueueUrl=stack.queue(queue),
                    Entries=[
                        {"Id": str(i), "MessageBody": json.dumps(b)} for i, b in enumerate(chunk)
                    ],
                )
            published += len(chunk)
            if number % 20 == 0:
                stack.pump(until_idle=False)
                done = published - _depth(stack, queue)
                progress.tick(f"{published} of {len(bodies)} published, {done} processed")


def _upload(stack: EmulatedStack, key: str, body: bytes) -> None:
    """A publisher uploads an audience file."""
    with stack.acting_as(PUBLISHER):
        stack.client("s3").put_object(
            Bucket=stack.stack.buckets["AudienceBucket"], Key=key, Body=body
        )


def _print_report(stack: EmulatedStack, campaign_id: str) -> None:
    with stack.acting_as(OPERATOR):
        table = render_table(report(campaign_id))
    print("\n".join("   " + line for line in table.splitlines()))


def _broken_file(stack: EmulatedStack, phones: list[str]) -> list[str]:
    """A file with one Latin-1 row: refused with nothing sent, then sent once fixed."""
    started = _step("Campaign 'flash' to a file whose last row is not UTF-8")
    bucket = stack.stack.buckets["AudienceBucket"]
    rows = "".join(f"{phone},Client\n" for phone in phones[:-1]).encode()
    broken = b"phone,first_name\n" + rows + phones[-1].encode() + b",L\xe9a\n"
    request = {
        "campaign_id": "flash",
        "category": "marketing",
        "brand": "acme",
        "body": "Vente flash ce soir chez Acme, -40 % !",
        "audience": {"s3_uri": f"s3://{bucket}/flash.csv"},
    }
    before = len(stack.sms.outbox)
    _upload(stack, "flash.csv", broken)
    _publish(stack, "CampaignQueue", [request])
    _settle(stack, "the campaign function to check the file")
    with stack.acting_as(OPERATOR):
        refused = report("flash")
    print(f"   {refused['status']}, {len(stack.sms.outbox) - before} SMS sent: {refused['reason']}")
    problems = []
    if refused["status"] != "refused" or len(stack.sms.outbox) != before:
        problems.append("a campaign with a broken file was not refused whole")
    fixed = broken.replace(b"L\xe9a", "Léa".encode())
    _upload(stack, "flash.csv", fixed)
    _publish(stack, "CampaignQueue", [request])  # the same campaign_id, once fixed
    _settle(stack, "the fixed campaign to be sent", _sending(stack, before))
    with stack.acting_as(OPERATOR):
        sent = report("flash")
    print(f"   fixed and published again under the same id: {sent['status']}, {sent['sent']} sent")
    if sent["sent"] + sum(sent["suppressed"].values()) != len(phones):
        problems.append("the fixed campaign did not reach its whole audience")
    dlq = stack.queue("CampaignDLQ")
    held = stack.dead_letters()["CampaignDLQ"]
    print(f"   CampaignDLQ holds the refused request ({held} message), as an operator finds it")
    stack.client("sqs").purge_queue(QueueUrl=dlq)  # read and handled: the demo goes on
    _done(started)
    return problems


def _cancelled(stack: EmulatedStack, phones: list[str]) -> list[str]:
    """A campaign scheduled for tomorrow with a wrong price: the operator cancels it."""
    started = _step("Campaign 'promo-demain' scheduled with a wrong price, then cancelled")
    tomorrow = datetime.now(UTC) + timedelta(days=1)
    before = len(stack.sms.outbox)
    _publish(
        stack,
        "CampaignQueue",
        [
            {
                "campaign_id": "promo-demain",
                "category": "marketing",
                "brand": "acme",
                "body": "Demain seulement : -90 % sur tout le magasin Acme !",
                "recipients": phones,
                "send_at": tomorrow.isoformat(),
            }
        ],
    )
    _settle(stack, "the campaign function to schedule it")
    with stack.acting_as(OPERATOR):  # python -m stopsms cancel promo-demain
        scheduled = report("promo-demain")["status"]
        campaigns.cancel("promo-demain")
    _settle(stack, "the cancellation to be applied")
    print(f"   {scheduled}, then cancelled by the operator before it started")
    _done(started)
    _print_report(stack, "promo-demain")
    with stack.acting_as(OPERATOR):
        shown = report("promo-demain")
    if len(stack.sms.outbox) != before or shown["cancelled"] != len(phones):
        return ["the cancelled campaign was not cancelled whole"]
    return []


def play(stack: EmulatedStack, audience: int = AUDIENCE) -> list[str]:
    """Play the scenario; returns what went wrong (empty when StopSMS kept its promises)."""
    problems: list[str] = []
    rng = random.Random(2026)  # noqa: S311 - first names, not secrets
    sms = stack.sms
    bind(get_settings())
    csv_text, phones = _audience(rng, audience)
    consented = [p for i, p in enumerate(phones) if i % 10 != 3]  # 10 % never opted in

    started = _step(f"Importing {len(consented)} opt-ins (web form) through ConsentQueue")
    captured = (datetime.now(UTC) - timedelta(days=30)).isoformat()
    _publish(
        stack,
        "ConsentQueue",
        [
            {
                "action": "opt_in",
                "phone": p,
                "brand": "acme",
                "source": "web-form https://acme.example/newsletter",
                "captured_at": captured,
                "proof": {
                    "ip": "203.0.113.7",
                    "checkbox_text": "J'accepte les offres Acme par SMS",
                },
            }
            for p in consented
        ],
    )
    _settle(stack, "the consent function to record the last opt-ins")
    _done(started)

    started = _step(f"Campaign 'soldes-hiver' (marketing) to an S3 audience of {audience}+ rows")
    _upload(stack, "soldes.csv", csv_text.encode())
    _publish(
        stack,
        "CampaignQueue",
        [
            {
                "campaign_id": "soldes-hiver",
                "category": "marketing",
                "brand": "acme",
                "language": "fr",
                "body": "Bonjour {first_name}, -20 % sur le rayon montagne ce week-end chez Acme !",
                "stop_number": "36111",
                "max_segments": 2,
                "audience": {"s3_uri": f"s3://{stack.stack.buckets['AudienceBucket']}/soldes.csv"},
            }
        ],
    )
    _settle(
        stack,
        "the file check, the fan-out in slices of 100 rows and the sender",
        _sending(stack, 0),
    )
    with stack.acting_as(OPERATOR):
        sent = report("soldes-hiver")
    _done(started, f"({len(sms.outbox)} SMS sent; its report follows the replies)")
    print(f"   status {sent['status']}: audience {sent['audience']}, sent {sent['sent']}")

    started = _step("Replies: a handful of people answer STOP, in their own words")
    stoppers = consented[:100:13][: len(STOP_REPLIES)]
    for phone, text in zip(stoppers, STOP_REPLIES, strict=False):
        print(f"   {mask(phone)} writes {text!r}")
        stack.reply(phone, text)
    stack.reply(consented[5], "weekend ?")  # not a keyword: kept for the operator
    print(f"   {mask(consented[5])} writes 'weekend ?'")
    stack.reply(consented[6], UNCLEAR_REPLY)
    print(f"   {mask(consented[6])} writes {UNCLEAR_REPLY!r}")
    _settle(stack, "the inbound function to read every reply and confirm the opt-outs")
    with stack.acting_as(OPERATOR):
        waiting = replies_to_review()
    print(f"   replies waiting for a human (python -m stopsms replies): {len(waiting)}")
    for item in waiting:
        print(f"      {item['text']!r}: {item['reason']}")
    if [item["text"] for item in waiting] != [UNCLEAR_REPLY]:
        kept = ", ".join(repr(item["text"]) for item in waiting) or "none"
        problems.append(f"the unclear reply was not the one kept for review: {kept}")
    _done(started)

    _step("Report of 'soldes-hiver', its STOP replies included (python -m stopsms report)")
    _print_report(stack, "soldes-hiver")
    with stack.acting_as(OPERATOR):
        final = report("soldes-hiver")
    if final["opt_outs"] != len(stoppers):  # each replied to this campaign's SMS
        problems.append(
            f"the report of soldes-hiver counts {final['opt_outs']} opt-outs, "
            f"{len(stoppers)} people replied STOP to it"
        )

    problems += _broken_file(stack, consented[:40])

    j2 = {
        "campaign_id": "soldes-j2",
        "category": "marketing",
        "brand": "acme",
        "body": "Dernier jour des soldes d’hiver chez Acme : -30 % sur le rayon ski !",
        "recipients": consented[:100],
    }
    started = _step("Dry run of 'soldes-j2' (python -m stopsms estimate): who, how many, cost")
    before = len(sms.outbox)
    _publish(stack, "CampaignQueue", [{**j2, "dry_run": True}])
    _settle(stack, "the pipeline to decide every recipient (nothing is sent)")
    with stack.acting_as(OPERATOR):
        estimate = report("soldes-j2")["estimate"]
    _done(started, f"({len(sms.outbox) - before} SMS sent)")
    _print_report(stack, "soldes-j2")
    if len(sms.outbox) != before or not estimate or not estimate["complete"]:
        problems.append("the dry run sent SMS, or did not decide everyone")

    started = _step("Campaign 'soldes-j2' (marketing, inline) sent for real, same id")
    _publish(stack, "CampaignQueue", [j2])
    _settle(stack, "the fan-out and the sender", _sending(stack, before))
    reached = {m["DestinationPhoneNumber"] for m in sms.outbox[before:]}
    print(f"   sent {len(sms.outbox) - before}, the dry run said {estimate['would_send']}")
    if len(sms.outbox) - before != estimate["would_send"]:
        problems.append("the real send did not send what its dry run estimated")
    print(f"   STOP repliers reached again: {len(reached & set(stoppers))} of {len(stoppers)}")
    if reached & set(stoppers):
        problems.append("a STOP replier was reached by the next campaign")
    _done(started)
    _print_report(stack, "soldes-j2")
    problems += _cancelled(stack, consented[:50])

    started = _step("Transactional message (order shipped) to someone who replied STOP")
    before = len(sms.outbox)
    _publish(
        stack,
        "CampaignQueue",
        [
            {
                "campaign_id": "commande-48213",
                "category": "transactional",
                "brand": "acme",
                "body": "Votre commande 48213 est expédiée, livraison demain.",
                "recipients": [stoppers[0]],
            }
        ],
    )
    _settle(stack, "the transactional message to be sent")
    for message in sms.outbox[before:]:
        print(
            f"   -> {mask(message['DestinationPhoneNumber'])} {message['MessageType']}: "
            f"{message['MessageBody']}"
        )
    if not any(m["MessageType"] == "TRANSACTIONAL" for m in sms.outbox[before:]):
        problems.append("the transactional message did not reach the STOP replier")
    _done(started)

    started = _step("Someone asks for help")
    before = len(sms.outbox)
    stack.reply(consented[8], "Aide ?")
    print(f"   {mask(consented[8])} writes 'Aide ?'")
    _settle(stack, "the inbound function to answer")
    for message in sms.outbox[before:]:
        print(
            f"   <- {mask(message['DestinationPhoneNumber'])} {message['MessageType']}: "
            f"{message['MessageBody']}"
        )
    if len(sms.outbox) == before:
        problems.append("HELP was not answered")
    _done(started)

    _step("A sample of the outbox")
    for message in [m for m in sms.outbox if m["MessageType"] == "PROMOTIONAL"][:3]:
        print(f"   {mask(message['DestinationPhoneNumber'])}  {message['MessageBody']}")
    confirmations = [m for m in sms.outbox if "ne recevrez plus" in m["MessageBody"]]
    example = confirmations[0]["MessageBody"] if confirmations else None
    print(f"   opt-out confirmations sent: {len(confirmations)}, e.g. {example!r}")
    if any("acme" not in m["MessageBody"] for m in confirmations):
        problems.append("a confirmation did not name the brand that wrote")

    _step("Where the evidence lives")
    settings = get_settings()
    print(f"   suppression + consent state : DynamoDB {settings.contact_state_table}")
    print(f"   append-only evidence        : DynamoDB {settings.evidence_table}")
    print(f"   delivery outcomes           : DynamoDB {settings.deliveries_table}")
    print("   e.g. python -m stopsms status PHONE, python -m stopsms optouts export")
    dead = stack.dead_letters()
    print(f"   messages in dead-letter queues: {_queues_line(dead)}")
    if any(dead.values()):
        problems.append(f"messages in dead-letter queues: {_queues_line(dead)}")

    _step("The campaign's report as a page (python -m stopsms report ID --html FILE)")
    print(f"   {_html_report(stack, 'soldes-hiver', HTML_REPORT)}: open it in a browser")
    return problems


def _html_report(stack: EmulatedStack, campaign_id: str, path: Path) -> Path:
    """The campaign's report as one self-contained HTML page; its absolute path."""
    from stopsms.pages import campaign_page  # the report's page (contract §6)

    with stack.acting_as(OPERATOR):
        data = report(campaign_id)
    path.write_text(campaign_page(data), encoding="utf-8")
    return path.resolve()


def run(audience: int = AUDIENCE) -> int:
    began = time.monotonic()
    print("Starting the local stack (moto server + fake End User Messaging endpoint)...")
    # Slices of 100 rows, the sender's batch: the emulator's SendQueue stays shallow (moto's
    # SQS slows down with the depth of a queue), and the continuations show in the report.
    overrides = {
        "SENDING_WINDOW": DEMO_WINDOW,
        "FANOUT_SLICE_ROWS": "100",
        "SEND_RATE": "500",  # the fake SMS endpoint has no throughput limit
        "INBOUND_BRANDS": "36111=acme",  # replies to 36111 concern acme
    }
    with EmulatedStack(overrides=overrides, quiet=True) as stack:
        print(f"   AWS emulator at {stack.endpoint}, SMS endpoint at {stack.sms.url}")
        print(f"   sending window opened to '{DEMO_WINDOW}' for the demo")
        print(
            "   IAM enforced: each function runs with only its template role, publishers with"
            " PublisherPolicy, the operator with OperatorPolicy"
        )
        problems = play(stack, audience)
        refusals = stack.iam.refusals if stack.iam else []
        print(f"\n== Least privilege: {len(refusals)} call(s) refused under IAM enforcement")
        for refusal in refusals[:5]:
            print(f"   {refusal}")
        if refusals:
            problems.append("calls were refused under the template's IAM policies")
        if stack.errors:
            first = redact(stack.errors[0])  # a traceback may quote data
            print(f"\n{len(stack.errors)} invocation(s) failed; the first:\n{first}")
            problems.append("function invocations failed")
    print(f"\nDemo finished in {time.monotonic() - began:.0f}s.")
    for problem in problems:  # `make demo` fails, and CI with it
        print(f"FAILED: {problem}")
    return 1 if problems else 0
