"""``python -m stopsms doctor``: the End User Messaging account a deployed stack relies on,
checked as it is; every check passes or fails with the command (or console step) that fixes it.

What a stack needs of its account and cannot create itself (docs/DEPLOY.md): its origination
identities (registered, active), two-way SMS of the numbers people reply to pointed at its
``InboundTopicArn``, self-managed opt-outs on those numbers, the opt-out keywords declared, a
configuration set publishing delivery events to its ``DeliveryEventsTopicArn``, a spend limit
that covers the planned volume, and the opt-out list it mirrors to. The checks only read
(``Describe*``, ``List*``); the fixes are printed for the operator to run.

The identities checked: ``OriginationIdentity`` (phone number, its id or ARN, pool, sender ID),
``StopNumber`` and every number of ``InboundBrands`` (the numbers people reply STOP to: they
must be numbers of this account, or the replies never reach the stack). The numbers shown are
the account's own senders, never a recipient's.
"""

from __future__ import annotations

import math
import shlex
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any, Literal

from botocore.exceptions import BotoCoreError, ClientError

from stopsms.deployed import outputs, parameters
from stopsms.errors import StopSmsError
from stopsms.rules import keywords as rules
from stopsms.rules import prices
from stopsms.rules.brands import BrandMapError, number_key, parse_brand_map
from stopsms.rules.receipts import MICROS

__all__ = [
    "HELP_KEYWORD",
    "OPT_OUT_KEYWORDS",
    "RECEIPT_EVENTS",
    "Check",
    "diagnose",
    "exit_code",
    "render",
]

CLI = "aws pinpoint-sms-voice-v2"
CONSOLE = "the End User Messaging SMS console"

# The opt-out keywords a number must declare: STOP, and the French words the rules read as an
# opt-out (rules/keywords.py, docs/KEYWORDS.md; tests check each one still is). With
# self-managed opt-outs on, End User Messaging neither answers nor opts out on them: it hands
# them to the two-way topic; declared OPT_OUT they are what carriers and AWS expect to see.
OPT_OUT_KEYWORDS: tuple[str, ...] = ("STOP", "ARRET", *rules.FRENCH_OPT_OUT_FORMS, "STOP TOUT")
HELP_KEYWORD = "HELP"  # AWS's required help keyword; StopSMS answers it (self-managed mode)
OPT_OUT_MESSAGE = "Vous ne recevrez plus de SMS de notre part."  # never sent in self-managed mode
HELP_MESSAGE = "Aide : répondez STOP pour ne plus recevoir de SMS."  # é is GSM-7

# Event types whose events decide a message's delivery state and cost (rules/receipts.py,
# contract §7): every final state. TEXT_ALL (what the stack's own configuration set names)
# or ALL covers them.
RECEIPT_EVENTS: frozenset[str] = frozenset(
    {
        "TEXT_DELIVERED",
        "TEXT_SUCCESSFUL",
        "TEXT_INVALID",
        "TEXT_INVALID_MESSAGE",
        "TEXT_UNREACHABLE",
        "TEXT_CARRIER_UNREACHABLE",
        "TEXT_BLOCKED",
        "TEXT_CARRIER_BLOCKED",
        "TEXT_SPAM",
        "TEXT_UNKNOWN",
        "TEXT_TTL_EXPIRED",
        "TEXT_PROTECT_BLOCKED",
    }
)
ALL_EVENTS = frozenset({"ALL", "TEXT_ALL"})
EVENT_DESTINATION = "stopsms-receipts"  # the name the stack's own configuration set uses
SPEND_LIMIT = "TEXT_MESSAGE_MONTHLY_SPEND_LIMIT"
DENIED = frozenset({"AccessDeniedException", "AccessDenied", "UnauthorizedOperation"})
NOT_FOUND = "ResourceNotFoundException"

Kind = Literal["phone number", "pool", "sender ID"]


@dataclass(frozen=True)
class Check:
    """One finding: ``detail`` says what was found, ``fix`` what to run (empty when ok)."""

    name: str
    ok: bool
    detail: str
    fix: str = ""


def render(checks: Sequence[Check]) -> str:
    """One line per check, its fix indented below it, then a count."""
    lines = []
    for check in checks:
        lines.append(f"{'PASS' if check.ok else 'FAIL'}  {check.name}: {check.detail}")
        if check.fix:
            lines.append(f"      fix: {check.fix}")
    failed = sum(not check.ok for check in checks)
    lines.append(
        f"{len(checks)} checks, {failed} failed" if failed else f"all {len(checks)} passed"
    )
    return "\n".join(lines)


def exit_code(checks: Sequence[Check]) -> int:
    return 0 if all(check.ok for check in checks) else 1


class _Refused(StopSmsError):
    """A call AWS refused or that could not run: the check it served fails with this."""

    def __init__(self, detail: str, fix: str) -> None:
        super().__init__(detail)
        self.detail = detail
        self.fix = fix


@dataclass(frozen=True)
class _Origin:
    """An origination identity found in the account, and what the stack uses it for."""

    kind: Kind
    ident: str  # PhoneNumberId, PoolId or SenderId: what the fixes name
    label: str  # how the operator knows it: the number, the pool or sender ID
    arn: str  # one identity named twice (by number and by id, say) is checked once
    info: Mapping[str, Any]
    uses: tuple[str, ...]  # OriginationIdentity, StopNumber, InboundBrands, pool-x member

    @property
    def receives(self) -> bool:
        """Whether replies can reach it (a sender ID is one-way; a pool's numbers share its
        two-way and opt-out settings, so the pool is what is checked)."""
        return self.kind != "sender ID" and not any(use.endswith(" member") for use in self.uses)


@dataclass
class _Account:
    """The client, with every read paginated, cached and its refusals turned into _Refused."""

    sms: Any
    _cache: dict[tuple[str, str], list[dict[str, Any]] | StopSmsError] = field(default_factory=dict)

    @property
    def region(self) -> str:
        return str(self.sms.meta.region_name)

    def cli(self, *words: str) -> str:
        """An AWS CLI command line for this region, quoted for a POSIX shell."""
        return shlex.join([*CLI.split(), *words, "--region", self.region])

    def pages(self, operation: str, key: str, **params: Any) -> list[dict[str, Any]]:
        """Every item under ``key`` of every page of ``operation`` (a snake_case name)."""
        cache_key = (operation, repr(sorted(params.items())))
        if cache_key not in self._cache:
            try:
                self._cache[cache_key] = self._call(
                    operation,
                    lambda: [
                        item
                        for page in self.sms.get_paginator(operation).paginate(**params)
                        for item in page.get(key, [])
                    ],
                )
            except _Refused as error:
                self._cache[cache_key] = error  # asked again, refused again without a call
        found = self._cache[cache_key]
        if isinstance(found, Exception):
            raise found
        return found

    def named(self, operation: str, key: str, **params: Any) -> list[dict[str, Any]]:
        """``pages`` of a read by name or id: none when AWS answers it is not in the account
        (a refusal still raises _Refused)."""
        try:
            return self.pages(operation, key, **params)
        except _NotFound:
            return []

    def _call(self, operation: str, read: Callable[[], list[dict[str, Any]]]) -> Any:
        action = "sms-voice:" + "".join(word.title() for word in operation.split("_"))
        try:
            return read()
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            message = _one_line(error.response.get("Error", {}).get("Message", "") or str(error))
            if code in DENIED:
                raise _Refused(
                    f"AWS refused {action} to this role ({message or code})",
                    f"allow {action} to the role running doctor (the stack's OperatorPolicyArn "
                    "output grants it)",
                ) from None
            if code == NOT_FOUND:
                raise _NotFound(
                    message or code, f"{CONSOLE}: check that it exists in {self.region}"
                ) from None
            raise _Refused(
                f"{action} failed: {code}: {message}",
                f"run doctor again; if it persists, check the service health in {self.region}",
            ) from None
        except BotoCoreError as error:
            raise _Refused(
                f"{action} could not run: {_one_line(str(error))}",
                "check the AWS credentials, region and network of this shell",
            ) from None


class _NotFound(_Refused):
    """AWS answered that what was asked for by name or id is not in the account."""


def diagnose(
    stack: Mapping[str, Any], sms: Any, *, planned_per_month: int | None = None
) -> list[Check]:
    """Every check of ``stack`` (one element of CloudFormation's ``describe_stacks()["Stacks"]``)
    against the account behind ``sms`` (a ``pinpoint-sms-voice-v2`` client in the stack's
    region); ``planned_per_month``: SMS a month, compared with the spend limit."""
    account = _Account(sms)
    given = parameters(stack)
    found = outputs(stack)
    checks: list[Check] = []
    if not any(given.get(name, "").strip() for name in _NAMING_IDENTITIES):
        checks.append(
            Check(
                "origination identities",
                False,
                "the stack names no StopNumber, OriginationIdentity nor InboundBrands number: "
                "no STOP reply can reach it (is it a StopSMS stack?)",
                "deploy with StopNumber=<the number of yours people reply STOP to> "
                "(make deploy; docs/DEPLOY.md)",
            )
        )
    origins = _origins(account, given, checks)
    inbound_topic = found.get("InboundTopicArn", "")
    for origin in origins:
        checks.extend(_identity_checks(account, origin))
        if origin.receives:
            checks.append(_two_way(account, origin, inbound_topic))
            checks.append(_self_managed(account, origin, inbound_topic))
            checks.append(_keywords(account, origin))
    checks.append(_configuration_set(account, stack, given, found))
    checks.append(_spend_limit(account, given, planned_per_month))
    checks.append(_opt_out_list(account, given, origins))
    return checks


# ---------------------------------------------------------------- which identities

_NAMING_IDENTITIES = ("OriginationIdentity", "StopNumber", "InboundBrands")


def _origins(account: _Account, given: Mapping[str, str], checks: list[Check]) -> list[_Origin]:
    """The identities the stack uses, found in the account; a FAIL in ``checks`` for each
    that cannot be found."""
    # As the stack names each identity -> the parameters naming it (one check for both when
    # OriginationIdentity and StopNumber are the same number).
    wanted: dict[str, list[str]] = {}
    for parameter in ("OriginationIdentity", "StopNumber"):
        if given.get(parameter, "").strip():
            wanted.setdefault(given[parameter].strip(), []).append(parameter)
    try:
        brand_numbers = sorted(parse_brand_map(given.get("InboundBrands", "")))
    except BrandMapError as error:
        checks.append(
            Check("InboundBrands", False, _one_line(str(error)), "fix the stack's InboundBrands")
        )
        brand_numbers = []
    for number in brand_numbers:
        wanted.setdefault(number, []).append("InboundBrands")

    origins: dict[str, _Origin] = {}  # by ARN: one identity named twice is checked once
    for spec, uses in wanted.items():
        try:
            resolved = _resolve(account, spec)
        except _Refused as refused:
            checks.append(Check(f"identity {spec}", False, refused.detail, refused.fix))
            continue
        if not resolved:
            checks.append(_missing(account, spec, uses))
            continue
        for origin in resolved:
            for use in uses:
                _merge(origins, origin, use)
            if origin.kind == "pool":
                checks.extend(_pool_members(account, origin, origins))
    return list(origins.values())


def _merge(origins: dict[str, _Origin], origin: _Origin, use: str) -> None:
    known = origins.get(origin.arn, origin)
    if use not in known.uses:
        origins[origin.arn] = replace(known, uses=(*known.uses, use))


def _resolve(account: _Account, spec: str) -> list[_Origin]:
    """What ``spec`` names, by its look: an ARN, a phone number id, a pool id, a number (E.164
    or short code) or a sender ID. Empty when the account has no such identity."""
    if spec.startswith("arn:"):
        resource = spec.split(":", 5)[-1]
        kind, _, rest = resource.partition("/")
        if kind == "phone-number":
            return _phone_by_id(account, spec)
        if kind == "pool":
            return _pool_by_id(account, spec)
        if kind == "sender-id":
            sender, _, country = rest.partition("/")
            return _senders(account, sender, country)
        return []
    if spec.startswith("phone-"):
        return _phone_by_id(account, spec)
    if spec.startswith("pool-"):
        return _pool_by_id(account, spec)
    if _is_number(spec):
        key = _digits(spec)
        return [
            _phone(info)
            for info in account.pages("describe_phone_numbers", "PhoneNumbers")
            if _digits(info["PhoneNumber"]) == key
        ]
    return _senders(account, spec, "")


def _phone_by_id(account: _Account, ident: str) -> list[_Origin]:
    found = account.named("describe_phone_numbers", "PhoneNumbers", PhoneNumberIds=[ident])
    return [_phone(info) for info in found]


def _pool_by_id(account: _Account, ident: str) -> list[_Origin]:
    found = account.named("describe_pools", "Pools", PoolIds=[ident])
    return [
        _Origin("pool", info["PoolId"], info["PoolId"], info["PoolArn"], info, ()) for info in found
    ]


def _senders(account: _Account, sender: str, country: str) -> list[_Origin]:
    if country:
        found = account.named(
            "describe_sender_ids",
            "SenderIds",
            SenderIds=[{"SenderId": sender, "IsoCountryCode": country}],
        )
    else:
        found = account.named(
            "describe_sender_ids",
            "SenderIds",
            Filters=[{"Name": "sender-id", "Values": [sender]}],
        )
    return [
        _Origin(
            "sender ID",
            info["SenderId"],
            f"{info['SenderId']} ({info['IsoCountryCode']})",
            info["SenderIdArn"],
            info,
            (),
        )
        for info in found
    ]


def _phone(info: Mapping[str, Any]) -> _Origin:
    ident = info.get("PhoneNumberId") or info["PhoneNumberArn"]
    return _Origin("phone number", ident, info["PhoneNumber"], info["PhoneNumberArn"], info, ())


def _pool_members(account: _Account, pool: _Origin, origins: dict[str, _Origin]) -> Iterator[Check]:
    """The pool's identities join the checked ones (their status and registration); a pool
    without any sends nothing."""
    try:
        members = account.pages(
            "list_pool_origination_identities", "OriginationIdentities", PoolId=pool.ident
        )
    except _Refused as refused:
        yield Check(f"pool {pool.ident} members", False, refused.detail, refused.fix)
        return
    if not members:
        yield Check(
            f"pool {pool.ident} members",
            False,
            "the pool has no phone number or sender ID: it can send nothing",
            account.cli(
                "associate-origination-identity",
                "--pool-id",
                pool.ident,
                "--origination-identity",
                "PHONE_NUMBER_ID",
                "--iso-country-code",
                "FR",
            ),
        )
        return
    use = f"{pool.ident} member"
    for member in members:
        arn = member["OriginationIdentityArn"]
        try:
            resolved = _resolve(account, arn)
        except _Refused as refused:
            yield Check(
                f"identity {member['OriginationIdentity']}", False, refused.detail, refused.fix
            )
            continue
        for origin in resolved:
            _merge(origins, origin, use)


def _missing(account: _Account, spec: str, uses: Sequence[str]) -> Check:
    named = ", ".join(uses)
    replies = [use for use in uses if use != "OriginationIdentity"]
    if replies:
        detail = (
            f"{spec} is not a phone number of this account in {account.region}: STOP replies "
            "sent to it never reach the stack"
        )
        fix = (
            f"request the number in the {CONSOLE} (Phone numbers, Request originator), or set "
            f"the stack's {' and '.join(uses)} to a number of yours (make deploy)"
        )
    else:
        detail = f"no phone number, pool or sender ID {spec} in this account in {account.region}"
        fix = (
            f"request or register it in the {CONSOLE}, or set the stack's OriginationIdentity "
            "to one of yours (make deploy)"
        )
    return Check(f"identity {spec}", False, f"{detail} ({named})", fix)


# ---------------------------------------------------------------- 1. exists, active, registered


def _identity_checks(account: _Account, origin: _Origin) -> Iterator[Check]:
    name = f"identity {origin.label}"
    uses = "the stack's " + ", ".join(origin.uses)
    info = origin.info
    if origin.kind == "sender ID":
        registered = "registered" if info.get("Registered") else "not registered"
        yield Check(name, True, f"sender ID {origin.ident}, {registered}; {uses}")
    else:
        status = info["Status"]
        what = f"{origin.kind} {origin.ident}"
        if origin.kind == "phone number":
            what += f" ({info['NumberType']}, {info['IsoCountryCode']}, {info['MessageType']})"
        if status == "ACTIVE":
            yield Check(name, True, f"ACTIVE {what}; {uses}")
        else:
            yield Check(
                name,
                False,
                f"{what} is {status}, not ACTIVE: it cannot send; {uses}",
                _not_active_fix(origin, status),
            )
    if info.get("RegistrationId"):
        yield _registration(account, origin, str(info["RegistrationId"]))


def _not_active_fix(origin: _Origin, status: str) -> str:
    if status in ("PENDING", "CREATING", "ASSOCIATING", "PROVISIONING"):
        return f"wait until it is ACTIVE ({CONSOLE}: {origin.ident}), then run doctor again"
    return f"replace it: request a new one in the {CONSOLE} and set the stack's parameter to it"


def _registration(account: _Account, origin: _Origin, registration: str) -> Check:
    name = f"registration {origin.label}"
    try:
        found = account.named(
            "describe_registrations", "Registrations", RegistrationIds=[registration]
        )
    except _Refused as refused:
        return Check(name, False, refused.detail, refused.fix)
    if not found:
        return Check(
            name,
            False,
            f"registration {registration} of {origin.ident} is not in this account",
            f"{CONSOLE}: Registrations, check {registration}",
        )
    status = found[0]["RegistrationStatus"]
    if status == "COMPLETE":
        return Check(name, True, f"{registration} COMPLETE")
    return Check(
        name,
        False,
        f"{registration} is {status}: carriers may block or filter what {origin.label} sends",
        f"{CONSOLE}: Registrations, {registration}: "
        + (
            "update and resubmit it"
            if status == "REQUIRES_UPDATES"
            else "complete the e-mail authentication"
            if status == "REQUIRES_AUTHENTICATION"
            else "submit it"
            if status == "CREATED"
            else "wait for AWS's review, then run doctor again"
            if status in ("SUBMITTED", "AWS_REVIEWING", "REVIEWING", "PROVISIONING")
            else "create a new registration for this identity"
        ),
    )


# ---------------------------------------------------------------- 2. two-way to InboundTopic


def _update(account: _Account, origin: _Origin, *flags: str) -> str:
    if origin.kind == "pool":
        return account.cli("update-pool", "--pool-id", origin.ident, *flags)
    return account.cli("update-phone-number", "--phone-number-id", origin.ident, *flags)


def _two_way_flags(topic: str) -> tuple[str, ...]:
    # No --two-way-channel-role: the stack's topic policy lets sms-voice.amazonaws.com of this
    # account publish, and its key policy lets it encrypt (template.yaml).
    return ("--two-way-enabled", "--two-way-channel-arn", topic or "INBOUND_TOPIC_ARN")


def _two_way_ok(origin: _Origin, topic: str) -> bool:
    info = origin.info
    return bool(info.get("TwoWayEnabled")) and bool(topic) and info.get("TwoWayChannelArn") == topic


def _two_way(account: _Account, origin: _Origin, topic: str) -> Check:
    name = f"two-way SMS {origin.label}"
    info = origin.info
    if _two_way_ok(origin, topic):
        return Check(name, True, f"replies go to the stack's InboundTopic {topic}")
    if not topic:
        found = "the stack has no InboundTopicArn output (is it a StopSMS stack?)"
    elif not info.get("TwoWayEnabled"):
        found = "two-way SMS is off: replies (STOP included) never reach the stack"
    else:
        where = info.get("TwoWayChannelArn") or "no channel"
        found = f"replies go to {where}, not to the stack's InboundTopic {topic}"
    return Check(name, False, found, _update(account, origin, *_two_way_flags(topic)))


# ---------------------------------------------------------------- 3. self-managed opt-outs


def _self_managed(account: _Account, origin: _Origin, topic: str) -> Check:
    name = f"self-managed opt-outs {origin.label}"
    if origin.info.get("SelfManagedOptOutsEnabled"):
        return Check(name, True, "on: StopSMS answers STOP and HELP and keeps the opt-outs")
    # Self-managed opt-outs need two-way SMS: the fix turns both on when two-way is not right.
    flags = () if _two_way_ok(origin, topic) else _two_way_flags(topic)
    return Check(
        name,
        False,
        "off: End User Messaging answers STOP itself and fills its own opt-out list, doubling "
        "the confirmation and blocking the exempt transactional messages of this number",
        _update(account, origin, *flags, "--self-managed-opt-outs-enabled"),
    )


# ---------------------------------------------------------------- 6. keywords


def _keywords(account: _Account, origin: _Origin) -> Check:
    name = f"keywords {origin.label}"
    try:
        registered = account.pages(
            "describe_keywords", "Keywords", OriginationIdentity=origin.ident
        )
    except _Refused as refused:
        return Check(name, False, refused.detail, refused.fix)
    actions = {rules.fold_words(item["Keyword"]): item["KeywordAction"] for item in registered}
    wanted = [(keyword, "OPT_OUT") for keyword in OPT_OUT_KEYWORDS]
    wanted.append((HELP_KEYWORD, "AUTOMATIC_RESPONSE"))
    wrong = [
        (keyword, action)
        for keyword, action in wanted
        if actions.get(rules.fold_words(keyword)) != action
    ]
    if not wrong:
        return Check(
            name, True, f"STOP, {len(OPT_OUT_KEYWORDS) - 1} French opt-out forms and HELP declared"
        )
    missing = [k for k, _ in wrong if rules.fold_words(k) not in actions]
    changed = [k for k, _ in wrong if rules.fold_words(k) in actions]
    found = []
    if missing:
        found.append("missing " + ", ".join(missing))
    if changed:
        found.append(
            "another action on "
            + ", ".join(f"{k} ({actions[rules.fold_words(k)]})" for k in changed)
        )
    return Check(name, False, "; ".join(found), _put_keywords(account, origin, wrong))


def _put_keywords(account: _Account, origin: _Origin, wrong: Iterable[tuple[str, str]]) -> str:
    commands = [
        account.cli(
            "put-keyword",
            "--origination-identity",
            origin.ident,
            "--keyword",
            keyword,
            "--keyword-message",
            HELP_MESSAGE if action == "AUTOMATIC_RESPONSE" else OPT_OUT_MESSAGE,
            "--keyword-action",
            action,
        )
        for keyword, action in wrong
    ]
    return " && ".join(commands)


# ---------------------------------------------------------------- 4. configuration set


def _configuration_set(
    account: _Account,
    stack: Mapping[str, Any],
    given: Mapping[str, str],
    found: Mapping[str, str],
) -> Check:
    # The stack names its own set ${StackName}-stopsms when ConfigurationSetName is empty.
    name = (
        found.get("ConfigurationSetName")
        or given.get("ConfigurationSetName")
        or f"{stack.get('StackName', '')}-stopsms"
    )
    topic = found.get("DeliveryEventsTopicArn", "")
    title = f"configuration set {name}"
    create_destination = account.cli(
        "create-event-destination",
        "--configuration-set-name",
        name,
        "--event-destination-name",
        EVENT_DESTINATION,
        "--matching-event-types",
        "TEXT_ALL",
        "--sns-destination",
        f"TopicArn={topic or 'DELIVERY_EVENTS_TOPIC_ARN'}",
    )
    try:
        sets = account.named(
            "describe_configuration_sets", "ConfigurationSets", ConfigurationSetNames=[name]
        )
    except _Refused as refused:
        return Check(title, False, refused.detail, refused.fix)
    if not sets:
        return Check(
            title,
            False,
            f"not in this account in {account.region}: every SMS names it, so none is sent",
            account.cli("create-configuration-set", "--configuration-set-name", name)
            + " && "
            + create_destination,
        )
    destinations = [
        item
        for item in sets[0].get("EventDestinations", [])
        if topic and item.get("SnsDestination", {}).get("TopicArn") == topic
    ]
    if not destinations:
        return Check(
            title,
            False,
            f"no event destination publishes to the stack's DeliveryEventsTopic {topic or '?'}: "
            "delivery, cost and blocked rates stay unknown",
            create_destination,
        )
    for item in destinations:
        types = set(item.get("MatchingEventTypes", []))
        if item.get("Enabled") and (types & ALL_EVENTS or types >= RECEIPT_EVENTS):
            return Check(
                title,
                True,
                f"event destination {item['EventDestinationName']} sends "
                f"{', '.join(sorted(types))} to the DeliveryEventsTopic",
            )
    item = destinations[0]
    problems = [] if item.get("Enabled") else ["disabled"]
    lacking = RECEIPT_EVENTS - set(item.get("MatchingEventTypes", []))
    if lacking and not set(item.get("MatchingEventTypes", [])) & ALL_EVENTS:
        problems.append("without " + ", ".join(sorted(lacking)))
    return Check(
        title,
        False,
        f"event destination {item['EventDestinationName']} is {' and '.join(problems)}: the "
        "receipts miss delivery events",
        account.cli(
            "update-event-destination",
            "--configuration-set-name",
            name,
            "--event-destination-name",
            item["EventDestinationName"],
            "--enabled",
            "--matching-event-types",
            "TEXT_ALL",
        ),
    )


# ---------------------------------------------------------------- 5. spend limit


def _spend_limit(account: _Account, given: Mapping[str, str], planned: int | None) -> Check:
    title = "spend limit"
    try:
        limits = account.pages("describe_spend_limits", "SpendLimits")
    except _Refused as refused:
        return Check(title, False, refused.detail, refused.fix)
    text = next((item for item in limits if item["Name"] == SPEND_LIMIT), None)
    if text is None:
        return Check(
            title,
            False,
            f"AWS reports no {SPEND_LIMIT} in {account.region}",
            f"AWS Support console: ask for the SMS monthly spend limit of {account.region}",
        )
    # EnforcedLimit applies once Overridden; until then the account's MaxLimit does.
    limit = int(text["EnforcedLimit"] if text["Overridden"] else text["MaxLimit"])
    maximum = int(text["MaxLimit"])
    country = (given.get("HolidaysCountry") or "FR").upper()
    try:
        table = _price_table(given)
    except StopSmsError as error:
        return Check(title, False, f"the stack's PriceTable: {error}", "fix its PriceTable")
    per_part = table.per_part.get(country)
    limit_text = f"${limit} a month in {account.region}"
    if per_part is None:
        return Check(
            title,
            False,
            f"{limit_text}; no price for {country} in the price table ({table.source})",
            f"add {country} to the stack's PriceTable parameter (make deploy)",
        )
    price = Decimal(per_part) / MICROS
    if planned is None:
        return Check(
            title,
            True,
            f"{limit_text}; run doctor --planned N to compare N SMS a month at ${price} a part "
            f"({country})",
        )
    cost = Decimal(planned) * price
    needed = math.ceil(cost)
    detail = (
        f"{planned} SMS a month of one part to {country} at ${price} cost ${cost:.2f}; "
        f"limit {limit_text}"
    )
    if cost <= limit:
        return Check(title, True, detail)
    if needed <= maximum:
        fix = account.cli("set-text-message-spend-limit-override", "--monthly-limit", str(needed))
    else:
        fix = (
            "AWS Support console, Create case, Service limit increase, End User Messaging SMS "
            f"(SMS monthly spend limit), region {account.region}, new limit ${needed}"
        )
    return Check(title, False, detail + ": SMS beyond it are refused until next month", fix)


def _price_table(given: Mapping[str, str]) -> prices.PriceTable:
    """The stack's own prices over the default table (an S3 PriceTableObject is not read)."""
    inline = given.get("PriceTable", "").strip()
    if not inline:
        return prices.default()
    return prices.parse(inline, "PriceTable").over(prices.default())


# ---------------------------------------------------------------- 7. mirrored opt-out list


def _opt_out_list(account: _Account, given: Mapping[str, str], origins: Sequence[_Origin]) -> Check:
    name = given.get("OptOutListName") or "Default"
    title = f"opt-out list {name}"
    if given.get("MirrorOptOuts", "false").lower() != "true":
        return Check(title, True, "MirrorOptOuts is false: StopSMS copies nothing to it")
    try:
        lists = account.named("describe_opt_out_lists", "OptOutLists", OptOutListNames=[name])
    except _Refused as refused:
        return Check(title, False, refused.detail, refused.fix)
    if not lists:
        return Check(
            title,
            False,
            f"not in this account in {account.region}: opt-outs for every brand cannot be copied",
            account.cli("create-opt-out-list", "--opt-out-list-name", name),
        )
    # A copy blocks sends only from the identities associated with that list.
    elsewhere = [
        origin
        for origin in origins
        if origin.receives and origin.info.get("OptOutListName", name) != name
    ]
    if elsewhere:
        return Check(
            title,
            False,
            "exists, but "
            + ", ".join(f"{o.label} uses {o.info['OptOutListName']}" for o in elsewhere)
            + ": the copies do not block its sends",
            " && ".join(_update(account, o, "--opt-out-list-name", name) for o in elsewhere),
        )
    return Check(title, True, "exists; every number and pool checked uses it")


# ---------------------------------------------------------------- helpers


def _is_number(spec: str) -> bool:
    compact = spec.replace(" ", "").replace(".", "").replace("-", "")
    return compact.lstrip("+").isdigit() and 3 <= len(compact.lstrip("+")) <= 15


def _digits(number: str) -> str:
    """One spelling for comparing the account's numbers with the stack's: the digits of the
    E.164 form (a short code, ``36111`` or ``+36111``, is its digits)."""
    return "".join(char for char in number_key(number) if char.isdigit())


def _one_line(text: str) -> str:
    return " ".join(text.split())
