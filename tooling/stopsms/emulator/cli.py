"""``python -m stopsms local …``: run StopSMS on this machine and talk to it.

``local up`` starts the stack and keeps feeding the functions until Ctrl-C; it writes the
endpoints to ``.stopsms-local.json`` so that the other commands (``publish``, ``reply``,
``outbox``) and the operator commands run with ``--local`` find it. IAM is enforced there as
in AWS: operator commands act with ``OperatorPolicy``, ``publish`` with ``PublisherPolicy``,
and ``reply`` as End User Messaging itself.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import boto3
from pydantic import ValidationError

from stopsms.emulator import iam
from stopsms.emulator import template as cfn
from stopsms.emulator.stack import ACCOUNT, REGION
from stopsms.models import CampaignRequest, ConsentRecord, describe

STATE = Path(".stopsms-local.json")
_SCOPE = contextlib.ExitStack()  # this process's principal, for its lifetime


def add_commands(commands: Any) -> None:
    local = commands.add_parser("local", help="run StopSMS locally (no AWS account, no Docker)")
    sub = local.add_subparsers(dest="local_command", required=True, metavar="COMMAND")

    up = sub.add_parser("up", help="start the local stack and keep it running (Ctrl-C stops)")
    up.add_argument("--window", help="override the sending window, e.g. 'Mon-Sun 00:00-23:59'")
    up.set_defaults(handler=_up)

    publish = sub.add_parser("publish", help="publish a campaign request or consent record")
    publish.add_argument("file", type=Path, help="JSON file (contract §2 or §3)")
    publish.add_argument("--queue", choices=["campaign", "consent"], default="campaign")
    publish.set_defaults(handler=_publish)

    reply = sub.add_parser("reply", help="a phone replies (publishes the two-way SMS payload)")
    reply.add_argument("phone", help="E.164 number of the person")
    reply.add_argument("text", help="what they write, e.g. STOP")
    reply.add_argument("--to", default="36111", help="the number they reply to")
    reply.set_defaults(handler=_reply)

    outbox = sub.add_parser("outbox", help="SMS sent so far")
    outbox.add_argument("--last", type=int, default=20)
    outbox.set_defaults(handler=_outbox)

    demo = sub.add_parser("demo", help="play the scripted demonstration")
    demo.set_defaults(handler=_demo)


def load_state() -> dict[str, Any]:
    if not STATE.exists():
        raise SystemExit(
            "no local stack is running here: start one with 'python -m stopsms local up'"
        )
    state: dict[str, Any] = json.loads(STATE.read_text())
    return state


def use_local(principal: str = "OperatorPolicy") -> None:
    """Point this process's AWS calls and settings at the running local stack, acting as
    ``principal`` of the template. The stack's emulator checks each call's signature and
    action; this process checks what it cannot (resources, KMS use), as the stack does for
    its functions."""
    state = load_state()
    os.environ.update(state["environment"])
    if "principals" not in state:
        return
    enforcement = iam.Enforcement(cfn.load(), cfn.Stack(**state["stack"]), REGION, ACCOUNT)
    enforcement.adopt_credentials(state["principals"])
    _SCOPE.enter_context(enforcement.active(emulator_in_process=False))
    _SCOPE.enter_context(enforcement.acting_as(principal))


def _up(args: argparse.Namespace) -> int:
    from stopsms.emulator.stack import EmulatedStack

    overrides = {"SENDING_WINDOW": args.window} if args.window else {}
    with EmulatedStack(overrides=overrides) as stack:
        environment = {k: v for k, v in os.environ.items() if k.startswith(("AWS_", "STOPSMS_"))}
        STATE.write_text(
            json.dumps(
                {
                    "environment": environment,
                    "stack": dataclasses.asdict(stack.stack),
                    "principals": {
                        name: stack.credentials(name)
                        for name in (
                            "OperatorPolicy",
                            "PublisherPolicy",
                            iam.ADMIN,
                        )
                    },
                    "queues": stack.stack.queues,
                    "topics": stack.stack.topics,
                    "buckets": stack.stack.buckets,
                    "outbox": f"{stack.sms.url}/outbox",
                },
                indent=2,
            )
        )
        print(f"StopSMS is running: AWS emulator {stack.endpoint}, SMS endpoint {stack.sms.url}")
        print(f"State in {STATE}; publish with 'python -m stopsms local publish FILE.json'.")
        shown = 0
        try:
            while True:
                stack.pump(until_idle=False)
                refusals = stack.iam.refusals if stack.iam else []
                for refusal in refusals[shown:]:  # a function lacking a permission: say so
                    print(f"refused under the template's IAM policies: {refusal}")
                shown = len(refusals)
                time.sleep(0.5)
        except KeyboardInterrupt:
            print("stopping")
        finally:
            STATE.unlink(missing_ok=True)
    return 0


def _client(service: str, principal: str) -> Any:
    """A client of the local stack acting as ``principal`` (see the module)."""
    use_local(principal)
    return boto3.session.Session().client(service)  # type: ignore[call-overload]


def _publish(args: argparse.Namespace) -> int:
    text = args.file.read_text(encoding="utf-8")
    model = CampaignRequest if args.queue == "campaign" else ConsentRecord
    try:  # refuse here what the function would refuse, with the same words
        model.model_validate_json(text)
    except ValidationError as error:
        print(f"refused: {describe(error)}")
        return 1
    queue = load_state()["queues"]["CampaignQueue" if args.queue == "campaign" else "ConsentQueue"]
    response = _client("sqs", "PublisherPolicy").send_message(QueueUrl=queue, MessageBody=text)
    print(f"published {response['MessageId']}")
    return 0


def _outbox_items() -> list[dict[str, Any]]:
    url = load_state()["outbox"]
    if not url.startswith("http://127.0.0.1:"):
        raise SystemExit(f"unexpected outbox address {url}")
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - loopback only
        items: list[dict[str, Any]] = json.load(response)["outbox"]
    return items


def _reply(args: argparse.Namespace) -> int:
    previous = [m for m in _outbox_items() if m["DestinationPhoneNumber"] == args.phone]
    payload = {
        "originationNumber": args.phone,
        "destinationNumber": args.to,
        "messageKeyword": "KEYWORD_LOCAL",
        "messageBody": args.text,
        "inboundMessageId": str(uuid.uuid4()),
    }
    if previous:
        payload["previousPublishedMessageId"] = previous[-1]["MessageId"]
    topic = load_state()["topics"]["InboundTopic"]
    sns = _client("sns", iam.ADMIN)  # End User Messaging itself publishes the reply
    sns.publish(TopicArn=topic, Message=json.dumps(payload))
    print(f"reply published ({payload['inboundMessageId']})")
    return 0


def _outbox(args: argparse.Namespace) -> int:
    for message in _outbox_items()[-args.last :]:
        when, kind, phone = (
            message["At"][:19],
            message["MessageType"],
            message["DestinationPhoneNumber"],
        )
        print(f"{when}  {kind:<13} {phone:<16} {message['MessageBody']}")
    return 0


def _demo(args: argparse.Namespace) -> int:
    from stopsms.demo import run

    return run()
