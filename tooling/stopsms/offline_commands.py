"""The commands that need no AWS: ``check``, ``classify``, ``phone`` (the questions asked
before a campaign: what will this text cost, is this reply a STOP, what does this number
normalise to and when may it receive marketing), ``schemas`` and ``demo``."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime

from stopsms import clock
from stopsms.errors import InvalidPhoneNumber, MessageTooLong
from stopsms.rules.keywords import classify
from stopsms.rules.mention import compose
from stopsms.rules.phones import normalize
from stopsms.rules.window import SendingWindow, is_open, next_open


def cmd_check(args: argparse.Namespace) -> int:
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


def cmd_classify(args: argparse.Namespace) -> int:
    result = classify(args.text)
    print(
        json.dumps(
            {"intent": result.intent, "keyword": result.keyword, "scope": result.scope},
            ensure_ascii=False,
        )
    )
    return 0


def cmd_phone(args: argparse.Namespace) -> int:
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
    from stopsms.pages.formatting import zone_of  # the pages package only when asked

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


def cmd_schemas(args: argparse.Namespace) -> int:
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


def cmd_demo(args: argparse.Namespace) -> int:
    from stopsms.demo import run  # the local stack needs moto: only when asked

    if args.audience is None:
        return run()
    if args.audience < 100:
        print("error: --audience must be at least 100", file=sys.stderr)
        return 2
    return run(args.audience)
