"""Operator command line: ``python -m stopsms COMMAND``. Every command has ``--help``.

Commands that only use the compliance core (``check``, ``classify``, ``phone``) work offline;
they answer the questions asked before a campaign: what will this text cost, is this reply a
STOP, what does this number normalise to and when may it receive marketing.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from stopsms.errors import InvalidPhoneNumber, MessageTooLong, StopSmsError
from stopsms.keywords import classify
from stopsms.mention import compose
from stopsms.phones import normalize
from stopsms.window import SendingWindow, is_open, next_open

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
        phone = normalize(args.phone, args.region)
    except InvalidPhoneNumber as error:
        print(f"invalid number: {error}", file=sys.stderr)
        return 1
    window = SendingWindow.parse(args.window)
    at = datetime.fromisoformat(args.at) if args.at else datetime.now(UTC)
    if at.tzinfo is None:
        print("--at needs an offset, e.g. 2026-12-01T19:30:00+01:00", file=sys.stderr)
        return 2
    print(
        json.dumps(
            {
                "e164": phone.e164,
                "masked": phone.masked,
                "region": phone.region,
                "time_zones": list(phone.time_zones),
                "marketing_window_open": is_open(window, at, phone),
                "next_open": next_open(window, at, phone).isoformat(),
            },
            indent=2,
        )
    )
    return 0


def _report(args: argparse.Namespace) -> int:
    from stopsms.dal.tables import bind  # AWS libraries only when needed
    from stopsms.reporting import render_table, report
    from stopsms.settings import get_settings

    bind(get_settings())
    data = report(args.campaign_id)
    print(json.dumps(data) if args.json else render_table(data))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m stopsms", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    check = commands.add_parser("check", help="final text, encoding and segments of a message")
    check.add_argument("text")
    check.add_argument(
        "--category", choices=["marketing", "transactional", "informational"], default="marketing"
    )
    check.add_argument("--language", choices=["fr", "en"], default="fr")
    check.add_argument("--stop-number", default="36111")
    check.add_argument("--max-segments", type=int)
    check.add_argument("--no-smart-encoding", action="store_true")
    check.set_defaults(handler=_check)

    reply = commands.add_parser("classify", help="what a reply means: opt_out, opt_in, help")
    reply.add_argument("text")
    reply.set_defaults(handler=_classify)

    phone = commands.add_parser("phone", help="normalise a number and show its sending window")
    phone.add_argument("phone")
    phone.add_argument("--region", default="FR", help="region of national numbers (default FR)")
    phone.add_argument("--window", default=str(SendingWindow()), help="e.g. 'Mon-Sat 08:00-20:00'")
    phone.add_argument("--at", help="ISO-8601 instant with offset (default: now)")
    phone.set_defaults(handler=_phone)

    report = commands.add_parser(
        "report",
        help="outcome counters of a campaign (contract section 6)",
        description="Reads the tables named by STOPSMS_*_TABLE (or the template's names) "
        "in the AWS account and region of the environment.",
    )
    report.add_argument("campaign_id")
    report.add_argument("--json", action="store_true", help="one JSON object (contract §6)")
    report.set_defaults(handler=_report)

    demo = commands.add_parser("demo", help="play the scripted demonstration")
    demo.set_defaults(handler=_demo)
    return parser


def _demo(args: argparse.Namespace) -> int:
    from stopsms.demo import run

    return run()


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args)
    except (StopSmsError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
