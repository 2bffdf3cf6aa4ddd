"""The commands about one campaign: ``report`` (its §6 counters, as text, JSON or a page),
``cancel``, ``pause``, ``resume`` and ``estimate`` (a dry run), against the stack the global
options name."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from stopsms.deployed import bind


def cmd_report(args: argparse.Namespace) -> int:
    from stopsms.reporting import render_table, report  # AWS libraries only when needed

    _campaign_id(args.campaign_id)
    bind()
    data = report(args.campaign_id)
    if args.html:
        from stopsms.pages import campaign_page

        write_page(args.html, campaign_page(data))
    print(json.dumps(data) if args.json else render_table(data))
    return 0


def write_page(path: str, page: str) -> None:
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


def refuse_oversized(body: str, name: object) -> None:
    """ValueError (one line) for a message SQS would refuse (the local emulator would not)."""
    from stopsms.aws.sqs import MESSAGE_BYTES

    size = len(body.encode("utf-8"))
    if size > MESSAGE_BYTES:
        raise ValueError(
            f"{name} is {size:,} bytes: an SQS message is at most {MESSAGE_BYTES:,}; give a "
            'large audience as a CSV in the S3 audience bucket ("audience": {"s3_uri": ...})'
        )


def _now_ms() -> int:
    """Now, as SQS stamps the messages it receives: a command's pause or resume is ordered
    with those published on CampaignQueue."""
    import time

    return int(time.time() * 1000)


def cmd_cancel(args: argparse.Namespace) -> int:
    from stopsms.dal import campaigns
    from stopsms.fanout.messages import control_body
    from stopsms.reporting import render_table, report

    _campaign_id(args.campaign_id)
    bind()
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


def cmd_pause(args: argparse.Namespace) -> int:
    from stopsms.dal import campaigns
    from stopsms.reporting import render_table, report

    cid = _campaign_id(args.campaign_id)
    bind()
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


def cmd_resume(args: argparse.Namespace) -> int:
    from stopsms.dal import campaigns
    from stopsms.fanout.messages import unpark_body
    from stopsms.reporting import render_table, report

    cid = _campaign_id(args.campaign_id)
    bind()
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


def cmd_estimate(args: argparse.Namespace) -> int:
    import time

    from pydantic import ValidationError

    from stopsms.models import CampaignRequest, describe
    from stopsms.reporting import render_table, report

    with open(args.file, encoding="utf-8-sig") as file:  # a BOM is no content
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
    bind()
    from stopsms.dal import campaigns

    recorded = campaigns.get(cid)
    if recorded is not None and recorded.dry_run is None and recorded.status != "refused":
        raise ValueError(
            f"campaign {cid!r} is recorded for real already: estimate it under another "
            "campaign_id (a dry run never replaces a campaign that may have sent)"
        )
    body = json.dumps({**data, "dry_run": True}, ensure_ascii=False)
    refuse_oversized(body, args.file)
    message_id = _publish(body)
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
