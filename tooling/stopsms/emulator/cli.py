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
import signal
import socket
import sys
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import boto3
from pydantic import BaseModel, ValidationError

from stopsms import clock
from stopsms.emulator import iam
from stopsms.emulator import template as cfn
from stopsms.emulator.stack import ACCOUNT, REGION
from stopsms.errors import StopSmsError
from stopsms.models import CampaignRequest, ConsentRecord, describe
from stopsms.rules.phones import mask, redact

STATE = Path(".stopsms-local.json")
LOG = Path(".stopsms-local.log")
# Held (flock) by the `local up` of this directory from before it starts until it stops: a
# second one refuses, and a command never takes a stack that is starting for a dead one.
LOCK = Path(".stopsms-local.lock")
START = "start it with `python -m stopsms local up`"
_SCOPE = contextlib.ExitStack()  # this process's principal, for its lifetime
WINDOW_HELP = (
    "sending window of marketing SMS, in each recipient's local time: 'DAYS HH:MM-HH:MM "
    "[no-holidays | holidays=CC]', e.g. 'Mon-Sun 00:00-23:59 no-holidays' to send at night "
    "for a test. It overrides the template's SendingWindow parameter (default "
    "'Mon-Sat 08:00-20:00', French public holidays skipped); outside it a marketing campaign "
    "waits, reported 'deferred'"
)
# What `local up` says about a campaign it saw published; it stops following it then.
_SETTLED = ("done", "refused", "cancelled")
_FOLLOW_EVERY_S = 2.0


class LocalStackError(StopSmsError):
    """The local stack of this directory is not running (or already is): one line saying
    what to do."""


def add_commands(commands: Any) -> None:
    local = commands.add_parser(
        "local",
        help="run StopSMS locally (no AWS account, no Docker)",
        description="Start the whole stack on this machine with `local up` (one terminal), "
        "then publish, reply and read the outbox from another one; operator commands act on "
        "it with --local.",
    )
    sub = local.add_subparsers(dest="local_command", required=True, metavar="COMMAND")

    up = sub.add_parser(
        "up",
        help="start the local stack and keep it running (Ctrl-C stops)",
        description=f"Starts the local stack and records it in {STATE} for the other "
        f"commands. The functions' logs and metrics go to {LOG}; the terminal shows what was "
        "published and what became of it.",
    )
    up.add_argument("--window", metavar="SPEC", help=WINDOW_HELP)
    up.add_argument(
        "--verbose",
        action="store_true",
        help=f"show the functions' logs and metrics here, not in {LOG}",
    )
    up.set_defaults(handler=_up)

    publish = sub.add_parser(
        "publish",
        help="publish a campaign request, a control message, a dry run or a consent record",
        description="Reads FILE (JSON), recognises what it is — a campaign request or dry run "
        "(contract §2), a cancel/pause/resume control (§2) or a consent record (§3) — checks "
        "it as the function would, and publishes it to its queue as a publisher would "
        "(PublisherPolicy).",
    )
    publish.add_argument("file", type=Path, help="the message, JSON")
    publish.add_argument(
        "--queue",
        choices=["campaign", "consent"],
        help="publish to this queue whatever FILE looks like (default: recognised)",
    )
    publish.set_defaults(handler=_publish)

    reply = sub.add_parser(
        "reply",
        help="a phone replies (publishes the two-way SMS payload)",
        description="Publishes on InboundTopic what End User Messaging publishes when a person "
        "replies to one of the SMS in the outbox (contract §4), as End User Messaging itself.",
    )
    reply.add_argument("phone", help="E.164 number of the person")
    reply.add_argument("text", help="what they write, e.g. STOP")
    reply.add_argument("--to", default="36111", help="the number they reply to (default 36111)")
    reply.set_defaults(handler=_reply)

    outbox = sub.add_parser(
        "outbox",
        help="SMS sent so far (numbers masked, local time)",
        description="The SMS the local stack's fake End User Messaging received, the latest last.",
    )
    outbox.add_argument("--last", type=int, default=20, help="how many (default 20)")
    outbox.set_defaults(handler=_outbox)

    demo = sub.add_parser(
        "demo",
        help="play the scripted demonstration",
        description="The same as `python -m stopsms demo`: a stack of its own, a scripted "
        "scenario, then everything stops.",
    )
    demo.set_defaults(handler=_demo)


# -- the state file of `local up` ---------------------------------------------------------


def load_state() -> dict[str, Any]:
    """What ``local up`` recorded; LocalStackError (one line) when no stack answers here, the
    stale file of a killed stack removed."""
    if not STATE.exists():
        if _held():
            raise LocalStackError("the local stack is starting here: try again in a few seconds")
        raise LocalStackError(f"no local stack is running here (no {STATE}): {START}")
    try:
        state = json.loads(STATE.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        state = None
    if not isinstance(state, dict) or not _running(state):
        if _held():  # its `local up` is alive: starting, or stopping
            raise LocalStackError("the local stack here is starting or stopping: try again")
        STATE.unlink(missing_ok=True)
        raise LocalStackError(
            f"the local stack recorded in {STATE} is not running (killed?): {START}"
        )
    return state


def _held() -> bool:
    """Whether a `local up` of this directory holds the lock (it is alive)."""
    import fcntl

    try:
        with LOCK.open("a") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(lock, fcntl.LOCK_UN)
    except OSError:
        return False
    return False


def _lock(scope: contextlib.ExitStack) -> None:
    """Hold this directory's lock while `local up` runs; LocalStackError if another holds it."""
    import fcntl

    lock = scope.enter_context(LOCK.open("a"))
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise LocalStackError(
            "a local stack is already running or starting here: use it, or stop it (Ctrl-C)"
        ) from None


def _running_here() -> dict[str, Any] | None:
    """The state of the stack running here, None if none is (a stale file is removed)."""
    try:
        return load_state()
    except LocalStackError:
        return None


def _running(state: dict[str, Any]) -> bool:
    """The process that wrote ``state`` is alive and its emulator accepts connections (a pid
    alone may have been reused; a port alone may be someone else's)."""
    pid = state.get("pid")
    if isinstance(pid, int):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:  # alive, someone else's: the port decides
            pass
    environment = state.get("environment")
    if not isinstance(environment, dict):
        return False  # not what `local up` writes
    try:
        endpoint = urllib.parse.urlsplit(str(environment.get("AWS_ENDPOINT_URL")))
        if endpoint.hostname != "127.0.0.1" or endpoint.port is None:
            return False
    except ValueError:  # an address that does not parse (a port out of range, a bad host)
        return False
    try:
        with socket.create_connection((endpoint.hostname, endpoint.port), timeout=2):
            return True
    except OSError:
        return False


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


# -- local up ------------------------------------------------------------------------------


def _up(args: argparse.Namespace) -> int:
    from stopsms.emulator.stack import EmulatedStack
    from stopsms.rules.window import SendingWindow

    if args.window:
        SendingWindow.parse(args.window)  # InvalidWindow: one line, before anything starts
    running = _running_here()
    if running is not None:
        raise LocalStackError(
            f"a local stack is already running here (pid {running.get('pid')}, "
            f"{running['environment']['AWS_ENDPOINT_URL']}): use it, or stop it (Ctrl-C)"
        )
    terminal = sys.stdout

    def say(line: str) -> None:
        print(line, file=terminal, flush=True)

    overrides = {"SENDING_WINDOW": args.window} if args.window else {}
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "INFO")  # a log file is read afterwards
    with contextlib.ExitStack() as scope:
        _lock(scope)
        log: IO[str] = terminal
        if not args.verbose:
            # Powertools prints logs and EMF metrics on stdout (as Lambda expects): the
            # functions are loaded and run with stdout going to the log file.
            log = scope.enter_context(LOG.open("w", encoding="utf-8", buffering=1))
            scope.enter_context(contextlib.redirect_stdout(log))
        stack = scope.enter_context(EmulatedStack(overrides=overrides))
        _write_state(stack)
        scope.callback(STATE.unlink, missing_ok=True)
        say(f"StopSMS is running: AWS emulator {stack.endpoint}, SMS endpoint {stack.sms.url}")
        say(_window_line(bool(args.window)))
        if not args.verbose:
            say(f"functions' logs and metrics: {LOG} (--verbose shows them here)")
        say(
            f"state in {STATE}; in another terminal: python -m stopsms local publish FILE.json,"
            " local reply PHONE TEXT, local outbox, python -m stopsms --local report ID"
        )
        say("Ctrl-C stops")
        _serve(stack, say, log)
    return 0


def _write_state(stack: Any) -> None:
    environment = {k: v for k, v in os.environ.items() if k.startswith(("AWS_", "STOPSMS_"))}
    principals = ("OperatorPolicy", "PublisherPolicy", iam.ADMIN)
    state = {
        "pid": os.getpid(),  # the next commands tell a killed stack from a running one
        "environment": environment,
        "stack": dataclasses.asdict(stack.stack),
        "principals": {name: stack.credentials(name) for name in principals},
        "queues": stack.stack.queues,
        "topics": stack.stack.topics,
        "buckets": stack.stack.buckets,
        "outbox": f"{stack.sms.url}/outbox",
    }
    # Written whole, then renamed: a command reading it meanwhile sees all of it or none.
    written = STATE.with_name(f"{STATE.name}.{os.getpid()}.tmp")
    written.write_text(json.dumps(state, indent=2), encoding="utf-8")
    os.replace(written, STATE)


def _window_line(overridden: bool) -> str:
    """The window in force and, for a French mobile, whether it is open now: a marketing
    campaign published while it is closed waits, and the user knows why."""
    from stopsms.rules.phones import normalize
    from stopsms.rules.window import SendingWindow, is_open, next_open
    from stopsms.settings import get_settings

    window = SendingWindow.parse(get_settings().sending_window)
    source = "--window" if overridden else "the default; --window overrides it"
    now, french = clock.now(), normalize("+33612345678")
    if is_open(window, now, french):
        state = "open now in France"
    else:
        opens = _local(next_open(window, now, french))
        state = f"closed now in France: marketing published now waits until {opens}"
    return f"sending window: '{window}' ({source}); {state}"


def _serve(stack: Any, say: Callable[[str], None], log: IO[str]) -> None:
    """Feed the functions until Ctrl-C (or SIGTERM), saying one line per thing a user cares
    about. The signal is noted and the loop ends between two passes: a KeyboardInterrupt
    raised anywhere (inside an invocation, a finaliser that swallows it) could leave work
    half done or be lost; a second Ctrl-C stops at once."""
    watch = _Watch(stack, say)
    watch.attach()
    shown_refusals = shown_errors = 0
    stopping: list[int] = []

    def stop(signum: int, _frame: object) -> None:
        if stopping:
            raise KeyboardInterrupt
        stopping.append(signum)

    previous = {number: signal.signal(number, stop) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        while not stopping:
            stack.pump(until_idle=False)
            refusals = stack.iam.refusals if stack.iam else []
            for refusal in refusals[shown_refusals:]:  # a function lacking a permission
                say(f"refused under the template's IAM policies: {refusal}")
            shown_refusals = len(refusals)
            for error in stack.errors[shown_errors:]:
                print(redact(error), file=log)
                say(f"a function failed: {redact(error.strip().splitlines()[-1])} (see {LOG})")
            shown_errors = len(stack.errors)
            watch.follow()
            time.sleep(0.5)
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
    say("stopping")


class _Watch:
    """Says what the functions are given (each message once, redeliveries aside) and follows
    each campaign's report until it settles."""

    def __init__(self, stack: Any, say: Callable[[str], None]) -> None:
        self.stack = stack
        self.say = say
        self.seen: set[str] = set()
        self.campaigns: dict[str, str] = {}  # campaign id -> the last line said of it
        self.last_follow = 0.0

    def attach(self) -> None:
        queues = {url: name for name, url in self.stack.stack.queues.items()}
        for source in self.stack.sources:
            function, queue = source.function, queues.get(source.queue_url, "")
            if queue in ("CampaignQueue", "ConsentQueue"):
                function.handler = self._watched(queue, function.handler)
            elif function.name == "InboundFunction":  # fed by InboundTopic's bridge queue
                function.handler = self._watched("reply", function.handler)

    def _watched(self, kind: str, handler: Callable[..., Any]) -> Callable[..., Any]:
        def invoke(event: dict[str, Any], context: Any) -> Any:
            records = event.get("Records", [])
            try:
                response = handler(event, context)
            except Exception:
                self._said(kind, records, {_record_id(r) for r in records})
                raise
            # SQS functions answer {"batchItemFailures": [...]}; the others something else.
            failures = response.get("batchItemFailures", []) if isinstance(response, dict) else []
            self._said(kind, records, {str(f.get("itemIdentifier")) for f in failures})
            return response

        return invoke

    def _said(self, kind: str, records: list[dict[str, Any]], failed: set[str]) -> None:
        for record in records:
            key = _record_id(record)
            if key in self.seen:
                continue
            self.seen.add(key)
            try:
                raw = record["Sns"]["Message"] if "Sns" in record else record["body"]
                body = json.loads(raw)
            except (KeyError, ValueError):
                body = None
            line = _describe_received(kind, body)
            if line is None:
                continue
            if key in failed:
                line += f": refused or failed, retried then put in its DLQ (reason in {LOG})"
            self.say(line)
            if kind == "CampaignQueue" and isinstance(body, dict) and "campaign_id" in body:
                self.campaigns.setdefault(str(body["campaign_id"]), "")

    def follow(self) -> None:
        if not self.campaigns or time.monotonic() - self.last_follow < _FOLLOW_EVERY_S:
            return
        from stopsms.dal.tables import bind
        from stopsms.reporting import report
        from stopsms.settings import get_settings

        self.last_follow = time.monotonic()
        bind(get_settings())
        for campaign_id, said in list(self.campaigns.items()):
            try:
                with self.stack.acting_as("OperatorPolicy"):
                    data = report(campaign_id)
            except StopSmsError:  # not recorded yet
                continue
            line = f"campaign {campaign_id}: {_summary(data)}"
            if line != said:
                self.say(line)
                self.campaigns[campaign_id] = line
            settled = data["status"] in _SETTLED or (
                data["status"] == "dry_run" and (data["estimate"] or {}).get("complete")
            )
            if settled:
                del self.campaigns[campaign_id]


def _record_id(record: dict[str, Any]) -> str:
    return str(record.get("messageId") or record.get("Sns", {}).get("MessageId"))


def _describe_received(kind: str, body: Any) -> str | None:
    """One line for a message a function received; None for the fan-out's own messages."""
    if not isinstance(body, dict):
        return f"{kind}: a message that is not a JSON object received" if kind else None
    if kind == "CampaignQueue":
        if "campaign_id" not in body:
            return None  # continuation, release, unpark: the fan-out talking to itself
        cid = body["campaign_id"]
        if "action" in body:
            return f"{body['action']} of campaign {cid} received"
        what = "dry run" if body.get("dry_run") else "campaign request"
        return f"{what} {cid} received ({body.get('category', 'no category')})"
    if kind == "ConsentQueue":
        scope = body.get("brand") or ("every brand" if body.get("action") == "opt_out" else "")
        whose = mask(body.get("phone"))
        return f"consent record {body.get('action')} of {whose} ({scope}) received"
    if kind == "reply":
        from stopsms.rules.keywords import classify

        text = str(body.get("messageBody", ""))
        shown = text if len(text) <= 40 else text[:39] + "…"
        return (
            f"reply from {mask(body.get('originationNumber'))}: {redact(shown)!r} "
            f"(read as {classify(text).intent})"
        )
    return None


def _summary(data: dict[str, Any]) -> str:
    status = data["status"]
    if status == "refused":
        return f"refused, nothing sent: {data['reason']}"
    if status in ("deferred", "scheduled"):
        until = _local(data["resume_at"]) if data.get("resume_at") else "its time"
        why = "the sending window" if status == "deferred" else "its send_at"
        return f"{status}: waits for {why}, until {until} (audience {data['audience']})"
    if status == "dry_run":
        estimate = data["estimate"] or {}
        return (
            f"dry run: would send {estimate.get('would_send', 0)} of {data['audience']}, "
            f"nothing sent"
        )
    suppressed = sum(data["suppressed"].values())
    return (
        f"{status}: audience {data['audience']}, sent {data['sent']}, suppressed {suppressed}, "
        f"failed {data['failed']}, pending {data['pending']}, cancelled {data['cancelled']}"
    )


def _local(value: Any) -> str:
    """An instant (datetime or ISO-8601 text) in this machine's time zone, for people."""
    at = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return at.astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")


# -- publish, reply, outbox ----------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Recognised:
    """What a file given to ``local publish`` was taken for."""

    kind: str  # "campaign request", "dry run", "pause control", "consent record"…
    queue: str  # the template's logical id of the queue it goes to
    model: type[BaseModel]
    label: str  # how the published line names it


def recognise(data: Any, queue: str | None = None) -> Recognised:
    """What ``data`` is by its keys (``queue`` forces "campaign" or "consent"): a control
    message has an ``action`` among cancel/pause/resume, a consent record an ``action``
    opt_in/opt_out (or a ``phone`` without ``campaign_id``); the rest is a campaign request,
    a dry run when ``dry_run`` is true. ValueError when it is not a JSON object."""
    from stopsms.fanout.messages import Control

    if not isinstance(data, dict):
        raise ValueError(
            "a JSON object is expected: a campaign request or control message (contract §2) "
            "or a consent record (§3)"
        )
    action = data.get("action")
    consent = action in ("opt_in", "opt_out") or ("phone" in data and "campaign_id" not in data)
    if queue == "consent" or (queue is None and consent):
        label = f"consent record {action} of {mask(data.get('phone'))}"
        return Recognised("consent record", "ConsentQueue", ConsentRecord, label)
    cid = data.get("campaign_id")
    if "action" in data:
        return Recognised(f"{action} control", "CampaignQueue", Control, f"{action} of {cid}")
    kind = "dry run" if data.get("dry_run") is True else "campaign request"
    return Recognised(kind, "CampaignQueue", CampaignRequest, f"{kind} {cid}")


def _read_json(path: Path) -> tuple[str, Any]:
    try:
        text = path.read_text(encoding="utf-8-sig")  # a BOM (Windows editors) is no content
    except FileNotFoundError:
        raise ValueError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ValueError(f"{path}: cannot be read ({error})") from None
    try:
        return text, json.loads(text)
    except ValueError as error:
        raise ValueError(f"{path} is not JSON ({error})") from None


def _publish(args: argparse.Namespace) -> int:
    text, data = _read_json(args.file)
    try:
        what = recognise(data, args.queue)
    except ValueError as error:
        raise ValueError(f"{args.file}: {error}") from None
    try:  # refuse here what the function would refuse, with the same words
        what.model.model_validate(data)
    except ValidationError as error:  # a wrong file: the usage error of every command
        raise ValueError(f"refused: {args.file} read as a {what.kind}: {describe(error)}") from None
    from stopsms.campaign_commands import refuse_oversized

    refuse_oversized(text, args.file)
    queue = load_state()["queues"][what.queue]
    response = _client("sqs", "PublisherPolicy").send_message(QueueUrl=queue, MessageBody=text)
    print(f"published {what.label} to {what.queue} (message id {response['MessageId']})")
    return 0


def _client(service: str, principal: str) -> Any:
    """A client of the local stack acting as ``principal`` (see the module)."""
    use_local(principal)
    return boto3.session.Session().client(service)  # type: ignore[call-overload]


def _outbox_items() -> list[dict[str, Any]]:
    url = load_state()["outbox"]
    if not url.startswith("http://127.0.0.1:"):
        raise LocalStackError(f"unexpected outbox address in {STATE}: {START}")
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - loopback only
            items: list[dict[str, Any]] = json.load(response)["outbox"]
    except OSError:  # the emulator answers, its SMS endpoint not: the stack is going down
        STATE.unlink(missing_ok=True)
        raise LocalStackError(
            f"the local stack recorded in {STATE} is not running (killed?): {START}"
        ) from None
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
    print(
        f"reply of {mask(args.phone)} to {args.to} published to InboundTopic "
        f"({payload['inboundMessageId']})"
    )
    return 0


def _outbox(args: argparse.Namespace) -> int:
    items = _outbox_items()
    if not items:
        print("no SMS sent yet")
        return 0
    for message in items[-args.last :]:
        when, kind = _local(message["At"]), message["MessageType"]
        phone = mask(message["DestinationPhoneNumber"])
        print(f"{when}  {kind:<13} {phone:<16} {message['MessageBody']}")
    return 0


def _demo(args: argparse.Namespace) -> int:
    from stopsms.demo import run

    return run()
