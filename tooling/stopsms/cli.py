"""Operator command line: ``python -m stopsms COMMAND``. Every command has ``--help``.

Commands that only use the compliance core (``check``, ``classify``, ``phone``) work offline;
they answer the questions asked before a campaign: what will this text cost, is this reply a
STOP, what does this number normalise to and when may it receive marketing. The others act on a
deployed stack (``--stack-name``) or the local one (``--local``). Errors are one line with the
fix (``stopsms.exits``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from stopsms import clock, exits
from stopsms.errors import InvalidPhoneNumber, MessageTooLong
from stopsms.pages.formatting import zone_of
from stopsms.rules.keywords import classify
from stopsms.rules.mention import compose
from stopsms.rules.phones import normalize
from stopsms.rules.window import SendingWindow, is_open, next_open
from stopsms.version import VERSION

Handler = Callable[[argparse.Namespace], int]


def _check(args: argparse.Namespace) -> int:
    try:
        result = compose(
            args.text,
            marketing=args.category == "marketing",
            language=args.language,
            stop_number=args.stop_number,
            max_segments=args.max_segments,
            smart_encoding=not args.no_smart_encoding,
        )
    except MessageTooLong as error:
        print(f"refused: {error}", file=sys.stderr)
        return 1
    saved = result.smart_encoding.saved if result.smart_encoding else 0
    print(
        json.dumps(
            {
                "text": result.text,
                "encoding": result.encoding,
                "segments_without_mention": result.segments_before,
                "segments": result.segments,
                "mention": result.mention,
                "smart_encoding_saved_segments": saved,
            },
            ensure_ascii=False,
            indent=2,
        )
    )
    return 0


def _classify(args: argparse.Namespace) -> int:
    result = classify(args.text)
    print(
        json.dumps(
            {"intent": result.intent, "keyword": result.keyword, "scope": result.scope},
            ensure_ascii=False,
        )
    )
    return 0


def _phone(args: argparse.Namespace) -> int:
    try:
        phone = normalize(args.phone, args.country)
    except InvalidPhoneNumber as error:
        print(f"invalid number: {error}", file=sys.stderr)
        return 1
    window = SendingWindow.parse(args.window)
    at = datetime.fromisoformat(args.at) if args.at else clock.now()
    if at.tzinfo is None:
        raise ValueError("--at needs an offset, e.g. 2026-12-01T19:30:00+01:00")
    opening = next_open(window, at, phone)

    print(
        json.dumps(
            {
                "e164": phone.e164,
                "masked": phone.masked,
                "region": phone.region,
                "time_zones": list(phone.time_zones),
                "marketing_window_open": is_open(window, at, phone),
                # people read the recipient's own clock; the instant is the same
                "next_open": opening.astimezone(zone_of(phone.e164)).isoformat(),
                "next_open_utc": opening.astimezone(UTC).isoformat(),
            },
            indent=2,
        )
    )
    return 0


def _report(args: argparse.Namespace) -> int:
    from stopsms.reporting import render_table, report  # AWS libraries only when needed

    _campaign_id(args.campaign_id)
    _bind()
    data = report(args.campaign_id)
    if args.html:
        from stopsms.pages import campaign_page

        _write_page(args.html, campaign_page(data))
    print(json.dumps(data) if args.json else render_table(data))
    return 0


def _write_page(path: str, page: str) -> None:
    with open(path, "w", encoding="utf-8") as out:
        out.write(page)
    print(f"wrote {path} (open it in a browser, or print it)", file=sys.stderr)


def _campaign_id(value: str) -> str:
    """``value`` if it is a campaign id; ValueError (a one-line error) if not."""
    import re

    from stopsms.models import CAMPAIGN_ID

    if not re.fullmatch(CAMPAIGN_ID, value):
        raise ValueError(f"{value!r} is not a campaign id ({CAMPAIGN_ID})")
    return value


def _publish(body: str) -> str:
    """Put a message on CampaignQueue (where the campaign fan-out reads); its message id."""
    from stopsms.aws import clients
    from stopsms.settings import get_settings

    queue = get_settings().campaign_queue_url
    if not queue:
        raise ValueError(
            "no campaign queue to publish to: name the stack with --stack-name NAME (its "
            "CampaignQueueUrl output), or use --local"
        )
    return str(clients.sqs().send_message(QueueUrl=queue, MessageBody=body)["MessageId"])


def _now_ms() -> int:
    """Now, as SQS stamps the messages it receives: a command's pause or resume is ordered
    with those published on CampaignQueue."""
    import time

    return int(time.time() * 1000)


def _cancel(args: argparse.Namespace) -> int:
    from stopsms.dal import campaigns
    from stopsms.fanout.messages import control_body
    from stopsms.reporting import render_table, report

    _campaign_id(args.campaign_id)
    _bind()
    known = campaigns.get(args.campaign_id)
    campaigns.cancel(args.campaign_id)
    if known is not None and known.paused_at is not None:
        # Its parked jobs are released, for the sender to record them cancelled.
        _publish(control_body("cancel", args.campaign_id))
    if known is None:
        print(
            f"campaign {args.campaign_id} is not recorded yet: recorded cancelled, it will "
            "not be sent when it arrives"
        )
        return 0
    shown = report(args.campaign_id)
    if shown["status"] == "done":
        print(f"campaign {args.campaign_id} was done already: nothing was left to cancel")
    else:
        print(f"campaign {args.campaign_id} cancelled: no SMS of it is sent from now on")
    print(render_table(shown))
    return 0


def _pause(args: argparse.Namespace) -> int:
    from stopsms.dal import campaigns
    from stopsms.reporting import render_table, report

    cid = _campaign_id(args.campaign_id)
    _bind()
    if campaigns.pause(cid, _now_ms()) == campaigns.Control.UNKNOWN:
        raise ValueError(
            f"no campaign {cid!r} to pause is recorded, or it is cancelled: check the id with "
            f"`python -m stopsms report {cid}`"
        )
    print(
        f"campaign {cid} paused: no SMS of it is sent until `python -m stopsms resume {cid}` "
        "(its jobs wait, parked)"
    )
    print(render_table(report(cid)))
    return 0


def _resume(args: argparse.Namespace) -> int:
    from stopsms.dal import campaigns
    from stopsms.fanout.messages import unpark_body
    from stopsms.reporting import render_table, report

    cid = _campaign_id(args.campaign_id)
    _bind()
    known = campaigns.get(cid)
    if known is None:
        raise ValueError(f"no campaign {cid!r} is recorded: check the id")
    # Lifted at once, like the pause (a pause typed right after wins); the fan-out then
    # releases what was parked.
    campaigns.resume(cid, _now_ms())
    try:
        _publish(unpark_body(cid, 0))
    except (ValueError, ClientError) as error:
        raise ValueError(
            f"campaign {cid} resumed, but what its pause parked is not released ({error}): "
            "run the command again"
        ) from None
    if known.paused_at is None:
        print(f"campaign {cid} was not paused: nothing to resume")
        return 0
    print(
        f"campaign {cid} resumes: its parked jobs go back to the sender within seconds "
        "(`report` shows it sending)"
    )
    print(render_table(report(cid)))
    return 0


def _estimate(args: argparse.Namespace) -> int:
    import time

    from pydantic import ValidationError

    from stopsms.models import CampaignRequest, describe
    from stopsms.reporting import render_table, report

    with open(args.file, encoding="utf-8") as file:
        try:
            data = json.load(file)
        except ValueError as error:
            raise ValueError(f"{args.file} is not JSON ({error})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{args.file}: a campaign request is a JSON object (contract §2)")
    try:
        request = CampaignRequest.model_validate({**data, "dry_run": True})
    except ValidationError as error:
        raise ValueError(f"{args.file}: {describe(error)}") from None
    cid = request.campaign_id
    _bind()
    from stopsms.dal import campaigns

    recorded = campaigns.get(cid)
    if recorded is not None and recorded.dry_run is None and recorded.status != "refused":
        raise ValueError(
            f"campaign {cid!r} is recorded for real already: estimate it under another "
            "campaign_id (a dry run never replaces a campaign that may have sent)"
        )
    message_id = _publish(json.dumps({**data, "dry_run": True}, ensure_ascii=False))
    print(f"dry run of {cid} requested: nothing will be sent", file=sys.stderr)
    if args.no_wait:
        print(f"`python -m stopsms report {cid}` shows its estimate")
        return 0
    deadline = time.monotonic() + args.timeout
    while True:
        shown = _estimate_so_far(cid, message_id, report)
        if shown is not None and (shown["status"] != "dry_run" or shown["estimate"]["complete"]):
            break
        if time.monotonic() > deadline:
            print(
                f"the dry run is still going after {args.timeout} s: "
                f"`python -m stopsms report {cid}` shows it when done",
                file=sys.stderr,
            )
            return 1
        if shown is not None:
            estimate = shown["estimate"]
            print(
                f"decided {estimate['evaluated']} of {shown['audience']} recipients...",
                file=sys.stderr,
            )
        time.sleep(args.every)
    print(json.dumps(shown) if args.json else render_table(shown))
    if shown["status"] == "refused":
        print(f"error: the dry run was refused: {shown['reason']}", file=sys.stderr)
        return 2
    return 0 if shown["status"] == "dry_run" else 1


def _estimate_so_far(
    campaign_id: str, message_id: str, report: Callable[[str], dict[str, Any]]
) -> dict[str, Any] | None:
    """The report of the dry run this command published (the message ``message_id``), None
    until the campaign function has recorded it (an earlier estimate of the id is not it)."""
    from stopsms.dal import campaigns

    recorded = campaigns.get(campaign_id)
    if recorded is None or recorded.request_message != message_id:
        return None
    return report(campaign_id)


def _bind() -> None:
    from stopsms.dal.tables import bind
    from stopsms.settings import get_settings

    bind(get_settings())


def _status(args: argparse.Namespace) -> int:
    from stopsms.ops import status
    from stopsms.settings import get_settings

    _bind()
    data = status(args.phone, get_settings())
    if args.html:
        from stopsms.pages import person_page

        _write_page(args.html, person_page(data))
    print(json.dumps(data, ensure_ascii=False, indent=2))
    return 0


def _doctor(args: argparse.Namespace) -> int:
    stack = getattr(args, "stack", None)
    if stack is None:
        raise ValueError(
            "doctor checks a deployed stack: name it with --stack-name NAME (or "
            "STOPSMS_STACK_NAME); the local stack has no End User Messaging to check"
        )
    from stopsms.aws import clients
    from stopsms.doctor import diagnose, exit_code, render

    checks = diagnose(stack, clients.sms(), planned_per_month=args.planned)
    print(render(checks))
    return exit_code(checks)


def _export(args: argparse.Namespace) -> int:
    from stopsms.ops import export_optouts

    _bind()
    if args.output == "-":
        count = export_optouts(sys.stdout)
    else:
        with open(args.output, "w", newline="", encoding="utf-8") as out:
            count = export_optouts(out)
    print(f"{count} opt-outs exported", file=sys.stderr)
    return 0


def _import(args: argparse.Namespace) -> int:
    from stopsms.ops import PROGRESS_EVERY, import_optouts

    _bind()

    def progress(so_far: Any) -> None:
        if so_far.lines % (10 * PROGRESS_EVERY) == 0 or sys.stderr.isatty():
            end = "\r" if sys.stderr.isatty() else "\n"
            print(
                f"  {so_far.lines:,} lines read, {so_far.imported:,} imported",
                end=end,
                file=sys.stderr,
                flush=True,
            )

    source = sys.stdin.buffer if args.file == "-" else open(args.file, "rb")  # noqa: SIM115
    with source:
        try:
            result = import_optouts(
                iter(lambda: source.read(64 * 1024), b""),
                args.source,
                args.brand,
                progress=progress,
            )
        except ValueError as error:  # the header cannot be used: no row could be read
            print(f"error: {error}", file=sys.stderr)
            print("0 line(s) read: nothing imported, the header cannot be used; fix it, run again")
            return 2
    if sys.stderr.isatty():
        print(file=sys.stderr)
    for line in result.refused:
        print(f"  refused {line}", file=sys.stderr)
    if result.ignored_columns:
        print(f"  columns ignored: {', '.join(result.ignored_columns)}", file=sys.stderr)
    print(result.summary())
    if result.cause is not None and exits.explain(result.cause)[0] in (exits.USAGE, exits.AWS):
        raise result.cause  # and the one line saying what to fix (a setting, a permission)
    return 1 if result.refused or result.interrupted else 0


def _replies(args: argparse.Namespace) -> int:
    from stopsms.ops import replies_to_review, resolve_review

    _bind()
    if args.apply or args.dismiss:
        print(resolve_review(args.apply or args.dismiss, opt_out=bool(args.apply)))
        return 0
    waiting = replies_to_review()
    if _printed_whole(waiting, args.json, nothing="no reply is waiting for review"):
        return 0
    for item in waiting:
        text = " ".join(str(item["text"] or "").split())
        shown = text if len(text) <= 70 else text[:69] + "…"
        print(f"{item['at'][:16]}  {item['brand']:<12} {shown!r}")
        print(f"    why: {item['reason']}")
        print(f"    id:  {item['id']}")
    print(
        f"{len(waiting)} repl{'y' if len(waiting) == 1 else 'ies'} to review: "
        "--apply ID opts the person out, --dismiss ID keeps the reply as it is"
    )
    return 0


def _printed_whole(items: list[dict[str, Any]], as_json: bool, nothing: str) -> bool:
    """Print a listing as JSON, or say there is ``nothing``; False: the caller prints it."""
    if as_json:
        print(json.dumps(items, ensure_ascii=False, indent=2))
        return True
    if not items:
        print(nothing)
        return True
    return False


def _failing(args: argparse.Namespace) -> int:
    from stopsms.ops import failing_destinations

    _bind()
    listed = failing_destinations()
    if _printed_whole(listed, args.json, nothing="no number keeps failing"):
        return 0
    for item in listed:
        print(
            f"{item['phone']:<16} since {item['since'][:10]}  {len(item['campaigns'])} campaigns"
            f"  last: {str(item['last_status']).lower()}  ({', '.join(item['campaigns'])})"
        )
    print(
        f"{len(listed)} number(s) keep failing: remove them from the audience lists at their "
        "source (a recycled number's consent is its former owner's)"
    )
    return 0


def _erase(args: argparse.Namespace) -> int:
    from stopsms.consent.erasure import erase
    from stopsms.rules.phones import normalize as to_e164
    from stopsms.settings import get_settings

    _bind()
    if not args.yes:
        raise ValueError("erasure cannot be undone: add --yes to confirm")
    done = erase(to_e164(args.phone).e164, get_settings())
    if done.erased_before is not None and not done.found:
        print(f"already erased on {done.erased_before:%Y-%m-%d}: nothing left to erase")
        return 0
    if not done.found:
        print(
            "nothing was stored for this number: there was nothing to erase. An opt-out for "
            "every brand is kept under a keyed hash all the same, so it never receives marketing"
        )
        return 0
    print(
        f"erased: {done.states} state item(s), {done.events} evidence event(s) redacted, "
        f"{done.deliveries} delivery record(s), {done.campaigns} campaign request(s); the "
        "opt-out is kept under a keyed hash"
    )
    return 0


def _schemas(args: argparse.Namespace) -> int:
    from pathlib import Path

    from stopsms.schemas import stale, write

    directory = Path(args.dir)
    if args.check:
        outdated = stale(directory)
        for path in outdated:
            state = "is stale (not what the models generate)" if path.exists() else "is missing"
            print(f"{path} {state}: run `make schemas`", file=sys.stderr)
        return 1 if outdated else 0
    written = write(directory)
    for path in written:
        print(f"wrote {path}")
    if not written:
        print(f"{directory}: up to date")
    return 0


DESCRIPTION = """StopSMS operator commands.

Offline (no AWS needed): check, classify, phone, schemas, demo, local.
Against a deployed stack: name it with --stack-name (or STOPSMS_STACK_NAME); its tables, queues
and settings are read from its outputs. Against the local stack: --local (after `local up`).
Global options may be given before or after the command."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m stopsms",
        description=DESCRIPTION,
        epilog=exits.EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"stopsms {VERSION}")
    _global_options(parser, defaults=True)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help: str, description: str = "", stack: bool = False) -> Any:
        """A command: its one-line ``help`` in the list, ``description`` on its own --help;
        ``stack``: it reads the deployed (or local) stack."""
        sub = commands.add_parser(
            name,
            help=help,
            description=_paragraphs(f"{help[0].upper()}{help[1:]}.", description),
            epilog=exits.EXIT_CODES,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        sub.set_defaults(reads_stack=stack)
        return sub

    check = command(
        "check",
        "final text, encoding and segments of a message",
        "Adds the STOP mention to a marketing text (not to transactional or informational "
        "ones), applies smart encoding and counts the SMS parts it will be billed as.",
    )
    check.add_argument("text", help="the message, as the campaign request's body")
    check.add_argument(
        "--category",
        choices=["marketing", "transactional", "informational"],
        default="marketing",
        help="only marketing carries the STOP mention (default marketing)",
    )
    check.add_argument("--language", choices=["fr", "en"], default="fr", help="of the mention")
    check.add_argument("--stop-number", default="36111", help="printed in the mention")
    check.add_argument("--max-segments", type=int, help="refuse a text longer than this")
    check.add_argument(
        "--no-smart-encoding", action="store_true", help="keep typographic characters as typed"
    )
    check.set_defaults(handler=_check)

    reply = command(
        "classify",
        "what a reply means: opt_out, opt_in, help or nothing",
        "The same classification the inbound function applies to two-way SMS replies "
        "(docs/KEYWORDS.md).",
    )
    reply.add_argument("text", help="the reply, as the person typed it")
    reply.set_defaults(handler=_classify)

    phone = command(
        "phone",
        "normalise a number and show its marketing window",
        "Prints the E.164 form, the country, its time zones and whether marketing may be sent "
        "now (or at --at); the next opening is in the recipient's own time.",
    )
    phone.add_argument("phone", help="any common format, e.g. '06 12 34 56 78'")
    phone.add_argument(
        "--country",
        "--region",  # the phone's region, in phonenumbers' words; no AWS region here
        dest="country",
        default="FR",
        metavar="CC",
        help="country of national numbers (default FR)",
    )
    phone.add_argument("--window", default=str(SendingWindow()), help="e.g. 'Mon-Sat 08:00-20:00'")
    phone.add_argument("--at", help="ISO-8601 instant with offset (default: now)")
    phone.set_defaults(handler=_phone)

    report = command(
        "report",
        "outcome counters of a campaign (contract section 6)",
        "Audience, sent, delivered, suppressed by reason, failed, opt-outs, segments and cost, "
        "status. --html writes one self-contained page with charts, to print or to send.",
        stack=True,
    )
    report.add_argument("campaign_id")
    report.add_argument("--json", action="store_true", help="one JSON object (contract §6)")
    report.add_argument("--html", metavar="FILE", help="write the report as an HTML page")
    report.set_defaults(handler=_report)

    cancel = command(
        "cancel",
        "stop a campaign: no SMS of it is sent from now on (contract section 2)",
        "Records the cancellation at once (the same as publishing "
        '{"action": "cancel", "campaign_id": ...} on CampaignQueue): SMS already sent stay '
        "sent, the others are reported cancelled; a campaign not recorded yet is cancelled "
        "when it arrives. It cannot be undone.",
        stack=True,
    )
    cancel.add_argument("campaign_id")
    cancel.set_defaults(handler=_cancel)

    pause = command(
        "pause",
        "hold a campaign: no SMS of it is sent until it is resumed",
        "Records the pause at once (the same as publishing "
        '{"action": "pause", "campaign_id": ...} on CampaignQueue): the sender parks the '
        "campaign's jobs within one batch, its fan-out stops at its next slice. Nothing is "
        "lost: `resume` releases them.",
        stack=True,
    )
    pause.add_argument("campaign_id")
    pause.set_defaults(handler=_pause)

    resume = command(
        "resume",
        "send a paused campaign again, from where it stopped",
        'Lifts the pause and publishes {"action": "resume", "campaign_id": ...} on '
        "CampaignQueue: the fan-out releases the parked jobs; the sending window and every "
        "opt-out are checked again as they go out.",
        stack=True,
    )
    resume.add_argument("campaign_id")
    resume.set_defaults(handler=_resume)

    estimate = command(
        "estimate",
        "dry run of a campaign request on disk: who would receive it, and its cost",
        "Publishes the request of FILE (contract section 2) with dry_run set on "
        "CampaignQueue, waits for the pipeline to decide every recipient (suppression, "
        "consent, window, mention, segments) and prints the report with its estimate. Nothing "
        "is sent; the same campaign_id can then be sent for real.",
        stack=True,
    )
    estimate.add_argument("file", help="the campaign request, JSON (e.g. examples/campaign.json)")
    estimate.add_argument("--json", action="store_true", help="one JSON object (contract §6)")
    estimate.add_argument("--no-wait", action="store_true", help="publish and return")
    estimate.add_argument(
        "--timeout", type=_seconds, default=600, help="seconds to wait (default 600)"
    )
    estimate.add_argument(
        "--every", type=_seconds, default=2, help=argparse.SUPPRESS
    )  # seconds between two reads of the report
    estimate.set_defaults(handler=_estimate)

    status = command(
        "status",
        "a number's state per brand and its full evidence history",
        "What StopSMS holds about one person: consent and opt-out per brand, and every event "
        "that proves them. --html writes it as a page, for an access request.",
        stack=True,
    )
    status.add_argument("phone", help="any common format, e.g. '06 12 34 56 78'")
    status.add_argument("--html", metavar="FILE", help="write the history as an HTML page")
    status.set_defaults(handler=_status)

    optouts = command(
        "optouts",
        "export or import the stop list",
        "export: every opt-out in force as CSV. import: a previous provider's stop list.",
    )
    optout_commands = optouts.add_subparsers(
        dest="optouts_command", required=True, metavar="COMMAND"
    )
    export = optout_commands.add_parser(
        "export",
        help="CSV of every opt-out in force, with its evidence reference",
        description="CSV of every opt-out in force, with its evidence reference.",
    )
    export.add_argument("--output", "-o", default="-", help="file (default: standard output)")
    export.set_defaults(handler=_export, reads_stack=True)
    load = optout_commands.add_parser(
        "import",
        help="apply a previous provider's stop list (CSV with a 'phone' column)",
        description="Apply a previous provider's stop list: a CSV with a 'phone' column "
        "(docs/CONTRACTS.md). Every line ends imported, already in force, superseded or "
        "refused with its line number; run it again after an interruption, it completes "
        "what is missing.",
    )
    load.add_argument("file", help="the CSV file, or - for standard input")
    load.add_argument("--source", required=True, help="where the list comes from (evidence)")
    load.add_argument("--brand", help="brand the opt-outs apply to (default: every brand)")
    load.set_defaults(handler=_import, reads_stack=True)

    review = command(
        "replies",
        "replies that may be opt-outs StopSMS could not apply on its own",
        "Lists the replies kept for human review: they contain an opt-out word "
        "('don't stop', a long message with 'désabonner', a STOP crossed by a later START) "
        "but changed nothing. Decide each one with --apply or --dismiss.",
        stack=True,
    )
    decision = review.add_mutually_exclusive_group()
    decision.add_argument(
        "--apply", metavar="ID", help="opt the person out, as of when they wrote (the reply's id)"
    )
    decision.add_argument("--dismiss", metavar="ID", help="close the review, change nothing")
    review.add_argument("--json", action="store_true", help="the list as JSON")
    review.set_defaults(handler=_replies)

    failing = command(
        "failing",
        "numbers whose SMS keep failing (3 campaigns, each within 30 days of the last)",
        "Lists the numbers whose SMS ended in a final failure (unreachable, blocked, spam...) "
        "in 3 campaigns, each within 30 days of the one before: dead or recycled numbers the "
        "audience lists still carry. The FailingDestinations alarm counts them.",
        stack=True,
    )
    failing.add_argument("--json", action="store_true", help="the list as JSON")
    failing.set_defaults(handler=_failing)

    erase = command(
        "erase",
        "a person's erasure request: forget the number, keep its opt-out",
        "Deletes what StopSMS holds about the number and redacts its evidence; an opt-out "
        "for every brand is kept under a keyed hash (the stack's ErasureKeyName secret), so "
        "the number never receives marketing again.",
        stack=True,
    )
    erase.add_argument("phone", help="any common format")
    erase.add_argument("--yes", action="store_true", help="confirm: this cannot be undone")
    erase.set_defaults(handler=_erase)

    doctor = command(
        "doctor",
        "check the AWS account a deployed stack sends with",
        "Reads the stack (--stack-name) and checks End User Messaging as deployed: the "
        "origination identities exist and are active, two-way SMS is on and goes to the "
        "stack's InboundTopic, self-managed opt-outs are on, the configuration set sends its "
        "events to the stack, the spend limit covers --planned SMS a month, the STOP and HELP "
        "keywords are registered. Each check passes or fails with the command that fixes it.",
        stack=True,
    )
    doctor.add_argument(
        "--planned", type=_count, metavar="N", help="SMS parts you plan to send a month"
    )
    doctor.set_defaults(handler=_doctor)

    schemas = command(
        "schemas",
        "write the JSON Schemas of the upstream messages (contract sections 2 and 3)",
        "Generates the JSON Schemas of campaign requests and consent records from the models, "
        "for publishers to validate their messages before sending.",
    )
    schemas.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if a file is stale"
    )
    schemas.add_argument(
        "--dir", default="schemas", help="directory of the files (default: schemas)"
    )
    schemas.set_defaults(handler=_schemas)

    demo = command(
        "demo",
        "play the scripted demonstration on the local stack",
        "Starts an emulated AWS account on this machine (no account, no Docker), publishes "
        "campaigns, replies STOP from some phones and prints what happened, then writes the "
        "campaign's HTML report.",
    )
    demo.add_argument(
        "--audience", type=int, help="rows of the campaign's audience (default 1000, min. 100)"
    )
    demo.set_defaults(handler=_demo)

    from stopsms.emulator.cli import add_commands  # development tooling

    add_commands(commands)
    for sub in _subcommands(parser):
        _global_options(sub, defaults=False)
    return parser


def _seconds(text: str) -> float:
    """A duration option: a number of seconds, finite and not negative."""
    import math

    value = float(text)
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds")
    return value


def _count(text: str) -> int:
    """A count option: a whole number, at least 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a count (1 or more)")
    return value


def _paragraphs(*texts: str) -> str:
    """Help text wrapped to the terminal's usual width (the raw formatter keeps the layout of
    the exit codes, so it does not wrap)."""
    import textwrap

    return "\n\n".join(textwrap.fill(text, 88) for text in texts if text)


def _global_options(parser: argparse.ArgumentParser, *, defaults: bool) -> None:
    """The options every command accepts, before or after its name. Under a command they
    default to nothing at all, so they do not hide what was given before it."""

    def default(value: Any) -> Any:
        return value if defaults else argparse.SUPPRESS

    group = parser.add_argument_group("global options")
    taken = parser._option_string_actions  # `phone --region` is a country
    if "--region" not in taken:
        group.add_argument(
            "--region", default=default(None), help="its AWS region (default: your AWS settings)"
        )
    group.add_argument(
        "--stack-name",
        metavar="NAME",
        default=default(os.environ.get("STOPSMS_STACK_NAME")),
        help="the deployed stack to act on (default: $STOPSMS_STACK_NAME)",
    )
    group.add_argument(
        "--local",
        action="store_true",
        default=default(False),
        help="act on the local stack started by `local up`",
    )


def _subcommands(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    """Every command's parser, nested ones included (argparse keeps them in its actions)."""
    found = []
    for action in parser._actions:  # argparse has no public walk
        if isinstance(action, argparse._SubParsersAction):
            for sub in dict.fromkeys(action.choices.values()):
                found += [sub, *_subcommands(sub)]
    return found


def _demo(args: argparse.Namespace) -> int:
    from stopsms.demo import run  # the local stack needs moto: only when asked

    if args.audience is None:
        return run()
    if args.audience < 100:
        print("error: --audience must be at least 100", file=sys.stderr)
        return 2
    return run(args.audience)


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        _connect(args)
        handler: Handler = args.handler
        code = handler(args)
        sys.stdout.flush()  # here, where a closed pipe is caught, not at exit
        return code
    except SystemExit:  # argparse's own usage errors, --help and --version
        _flush_or_quiet()
        raise
    except BrokenPipeError:  # `... | head`: the reader has what it wanted
        _quiet_stdout()
        return exits.DONE
    except BaseException as error:
        if exits.debugging():
            raise
        code, line = exits.explain(error)
        print(f"error: {line}", file=sys.stderr)
        return code


def _flush_or_quiet() -> None:
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        _quiet_stdout()


def _quiet_stdout() -> None:
    """Send what is left to /dev/null: Python's own flush at exit would fail on the closed
    pipe again, and print that it did."""
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def _connect(args: argparse.Namespace) -> None:
    """Point this process at what the global options name: a region, a deployed stack or the
    local one. Commands that work offline ignore the stack."""
    if args.region:
        os.environ["AWS_DEFAULT_REGION"] = os.environ["AWS_REGION"] = args.region
    elif os.environ.get("AWS_REGION") and not os.environ.get("AWS_DEFAULT_REGION"):
        os.environ["AWS_DEFAULT_REGION"] = os.environ["AWS_REGION"]  # botocore reads only this
    exported = os.environ.get("STOPSMS_STACK_NAME")
    if args.local and args.stack_name and args.stack_name != exported:
        raise ValueError("--local and --stack-name name two different stacks: choose one")
    if args.local:  # wins over a stack name exported for the deployed stack
        from stopsms.emulator.cli import use_local

        use_local()
    elif args.stack_name and getattr(args, "reads_stack", False):
        from stopsms import deployed

        args.stack = deployed.use(args.stack_name)
