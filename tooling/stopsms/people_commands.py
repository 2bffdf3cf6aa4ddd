"""The commands about people and the stack's accounts: ``status`` (a number's history, for an
access request), the stop list (``optouts export``, ``optouts import``), ``replies`` waiting for
a human, ``failing`` numbers, ``erase``, and ``doctor`` (the End User Messaging account)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from stopsms import exits
from stopsms.campaign_commands import write_page
from stopsms.deployed import bind


def cmd_status(args: argparse.Namespace) -> int:
    from stopsms.ops import status
    from stopsms.settings import get_settings

    bind()
    data = status(args.phone, get_settings())
    if args.html:
        from stopsms.pages import person_page

        write_page(args.html, person_page(data))
    print(json.dumps(data, ensure_ascii=False, indent=2))
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
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


def cmd_export(args: argparse.Namespace) -> int:
    from stopsms.ops import export_optouts

    bind()
    if args.output == "-":
        count = export_optouts(sys.stdout)
    else:
        with open(args.output, "w", newline="", encoding="utf-8") as out:
            count = export_optouts(out)
    print(f"{count} opt-outs exported", file=sys.stderr)
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from stopsms.ops import PROGRESS_EVERY, import_optouts

    bind()

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


def cmd_replies(args: argparse.Namespace) -> int:
    from stopsms.ops import replies_to_review, resolve_review

    bind()
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


def cmd_failing(args: argparse.Namespace) -> int:
    from stopsms.ops import failing_destinations

    bind()
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


def cmd_migrate(args: argparse.Namespace) -> int:
    from stopsms import clock
    from stopsms.migration import migrate, settled

    bind()
    wait_until = settled(getattr(args, "stack", None), clock.now())
    done = migrate(
        drop=args.drop_legacy,
        settled=wait_until is None,
        progress=lambda d: print(f"... {d.items:,} item(s) read", file=sys.stderr),
    )
    if not done.marked and wait_until is not None:
        print(
            f"folded {done.items:,} per-scope item(s) into {done.numbers:,} number item(s); the "
            f"stack was updated less than 15 minutes ago, and a function of the previous "
            f"version may still run: run 'python -m stopsms migrate' again after "
            f"{wait_until:%H:%M} UTC to finish (every function reads both forms until then)"
        )
        return 0
    if done.already:
        print("already migrated: every function reads one item per number")
    else:
        print(
            f"migrated: {done.items:,} per-scope item(s) folded into {done.numbers:,} "
            "number item(s); every function now reads one item per number"
        )
    if args.drop_legacy:
        print(f"deleted {done.dropped:,} per-scope item(s) of the previous version")
    return 0


def cmd_erase(args: argparse.Namespace) -> int:
    from stopsms.consent.erasure import erase
    from stopsms.rules.phones import normalize as to_e164
    from stopsms.settings import get_settings

    bind()
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
