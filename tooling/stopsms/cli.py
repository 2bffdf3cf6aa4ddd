"""Operator command line: ``python -m stopsms COMMAND``. Every command has ``--help``.

This module is the command line itself: the commands, their options and the global ones
(``--stack-name``, ``--region``, ``--local``, before or after the command), and ``main``,
which turns every error into one line with its fix (``stopsms.exits``). What each command
does is in ``offline_commands`` (no AWS needed), ``campaign_commands`` and ``people_commands``.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from stopsms import campaign_commands as campaign
from stopsms import exits
from stopsms import offline_commands as offline
from stopsms import people_commands as people
from stopsms.rules.window import SendingWindow
from stopsms.version import VERSION

Handler = Callable[[argparse.Namespace], int]


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
    check.add_argument(
        "--language", choices=["fr", "en"], default="fr", help="of the mention (default fr)"
    )
    check.add_argument(
        "--stop-number", default="36111", help="printed in the mention (default 36111)"
    )
    check.add_argument(
        "--max-segments", type=int, help="refuse a text needing more SMS parts than this"
    )
    check.add_argument(
        "--no-smart-encoding", action="store_true", help="keep typographic characters as typed"
    )
    check.set_defaults(handler=offline.cmd_check)

    reply = command(
        "classify",
        "what a reply means: opt_out, opt_in, help or nothing",
        "The same classification the inbound function applies to two-way SMS replies "
        "(docs/KEYWORDS.md).",
    )
    reply.add_argument("text", help="the reply, as the person typed it")
    reply.set_defaults(handler=offline.cmd_classify)

    phone = command(
        "phone",
        "normalise a number and show its marketing window",
        "Prints the E.164 form, the country, its time zones and whether marketing may be sent "
        "now (or at --at); the next opening is in the recipient's own time.",
    )
    phone.add_argument("phone", help="any common format, e.g. '06 12 34 56 78'")
    phone.add_argument(
        "--country",
        dest="country",
        default="FR",
        metavar="CC",
        help="country of national numbers (default FR)",
    )
    phone.add_argument("--window", default=str(SendingWindow()), help="e.g. 'Mon-Sat 08:00-20:00'")
    phone.add_argument("--at", help="ISO-8601 instant with offset (default: now)")
    phone.set_defaults(handler=offline.cmd_phone)

    report = command(
        "report",
        "outcome counters of a campaign (contract section 6)",
        "Audience, sent, delivered, suppressed by reason, failed, opt-outs, segments and cost, "
        "status. --html writes one self-contained page with charts, to print or to send.",
        stack=True,
    )
    report.add_argument("campaign_id", help="the request's campaign_id")
    report.add_argument("--json", action="store_true", help="one JSON object (contract §6)")
    report.add_argument("--html", metavar="FILE", help="write the report as an HTML page")
    report.set_defaults(handler=campaign.cmd_report)

    cancel = command(
        "cancel",
        "stop a campaign: no SMS of it is sent from now on (contract section 2)",
        "Records the cancellation at once (the same as publishing "
        '{"action": "cancel", "campaign_id": ...} on CampaignQueue): SMS already sent stay '
        "sent, the others are reported cancelled; a campaign not recorded yet is cancelled "
        "when it arrives. It cannot be undone.",
        stack=True,
    )
    cancel.add_argument("campaign_id", help="the request's campaign_id")
    cancel.set_defaults(handler=campaign.cmd_cancel)

    pause = command(
        "pause",
        "hold a campaign: no SMS of it is sent until it is resumed",
        "Records the pause at once (the same as publishing "
        '{"action": "pause", "campaign_id": ...} on CampaignQueue): the sender parks the '
        "campaign's jobs within one batch, its fan-out stops at its next slice. Nothing is "
        "lost: `resume` releases them.",
        stack=True,
    )
    pause.add_argument("campaign_id", help="the request's campaign_id")
    pause.set_defaults(handler=campaign.cmd_pause)

    resume = command(
        "resume",
        "send a paused campaign again, from where it stopped",
        'Lifts the pause and publishes {"action": "resume", "campaign_id": ...} on '
        "CampaignQueue: the fan-out releases the parked jobs; the sending window and every "
        "opt-out are checked again as they go out.",
        stack=True,
    )
    resume.add_argument("campaign_id", help="the request's campaign_id")
    resume.set_defaults(handler=campaign.cmd_resume)

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
    estimate.set_defaults(handler=campaign.cmd_estimate)

    status = command(
        "status",
        "a number's state per brand and its full evidence history",
        "What StopSMS holds about one person: consent and opt-out per brand, and every event "
        "that proves them. --html writes it as a page, for an access request.",
        stack=True,
    )
    status.add_argument("phone", help="any common format, e.g. '06 12 34 56 78'")
    status.add_argument("--html", metavar="FILE", help="write the history as an HTML page")
    status.set_defaults(handler=people.cmd_status)

    optouts = command(
        "optouts",
        "export or import the stop list",
        "export: every opt-out in force as CSV. import: a previous provider's stop list.",
        stack=True,
    )
    optout_commands = optouts.add_subparsers(
        dest="optouts_command", required=True, metavar="COMMAND"
    )
    export = optout_commands.add_parser(
        "export",
        help="CSV of every opt-out in force, with its evidence reference",
        description="CSV of every opt-out in force, with its evidence reference.",
    )
    export.add_argument(
        "--output", "-o", default="-", metavar="FILE", help="file (default: standard output)"
    )
    export.set_defaults(handler=people.cmd_export, reads_stack=True)
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
    load.set_defaults(handler=people.cmd_import, reads_stack=True)

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
    review.set_defaults(handler=people.cmd_replies)

    failing = command(
        "failing",
        "numbers whose SMS keep failing (3 campaigns, each within 30 days of the last)",
        "Lists the numbers whose SMS ended in a final failure (unreachable, blocked, spam...) "
        "in 3 campaigns, each within 30 days of the one before: dead or recycled numbers the "
        "audience lists still carry. The FailingDestinations alarm counts them.",
        stack=True,
    )
    failing.add_argument("--json", action="store_true", help="the list as JSON")
    failing.set_defaults(handler=people.cmd_failing)

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
    erase.set_defaults(handler=people.cmd_erase)

    migrate = command(
        "migrate",
        "fold the previous version's per-scope contact items into one item per number",
        "Run after each update of the stack (make deploy does): folds what an earlier version "
        "stored, one item per number and brand, into each number's item, then marks the table "
        "migrated. Safe to interrupt and run again. --drop-legacy then deletes the older items "
        "(once the stack's update is complete).",
        stack=True,
    )
    migrate.add_argument(
        "--drop-legacy", action="store_true", help="delete the older items once folded"
    )
    migrate.set_defaults(handler=people.cmd_migrate)

    doctor = command(
        "doctor",
        "check the AWS account a deployed stack sends with",
        "Reads the stack (--stack-name) and checks End User Messaging as deployed: the "
        "origination identities exist, are active and registered; two-way SMS is on and goes "
        "to the stack's InboundTopic; self-managed opt-outs are on; the configuration set "
        "sends its events to the stack; the spend limit covers --planned SMS parts a month; "
        "the STOP and HELP keywords are declared; the mirrored opt-out list exists. Each "
        "check passes or fails with the command that fixes it.",
        stack=True,
    )
    doctor.add_argument(
        "--planned", type=_count, metavar="N", help="SMS parts you plan to send a month"
    )
    doctor.set_defaults(handler=people.cmd_doctor)

    schemas = command(
        "schemas",
        "write the JSON Schemas of the upstream messages (contract sections 2 and 3)",
        "Generates the JSON Schemas of campaign requests, campaign controls (cancel, pause, "
        "resume) and consent records from the models, "
        "for publishers to validate their messages before sending.",
    )
    schemas.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if a file is stale"
    )
    schemas.add_argument(
        "--dir", default="schemas", help="directory of the files (default: schemas)"
    )
    schemas.set_defaults(handler=offline.cmd_schemas)

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
    demo.set_defaults(handler=offline.cmd_demo)

    from stopsms.emulator.cli import add_commands  # development tooling

    add_commands(commands)
    for sub in _subcommands(parser):
        if sub.get_default("reads_stack"):  # the offline commands have no stack to name
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
