"""Run each function, and the operators' and publishers' tools, with exactly the permissions
the template grants them, against the emulator.

The statements come from ``roles.json``: the template as SAM expands it (policy templates such
as ``SQSSendMessagePolicy`` become statements), written by ``scripts/expand_roles.py`` and
checked fresh by ``make validate``. Every principal becomes an IAM user of the emulator with
those statements, and every request is signed with the keys of whoever is acting.

Who checks what:

- moto (``INITIAL_NO_AUTH_ACTION_COUNT = 0``) checks the signature and the action of every
  request, and the resource only for SQS and S3 (for other services it evaluates ``"*"``, which
  a statement scoped to a table never matches, so its users get those resources widened);
- :meth:`Enforcement.authorise`, before every request, checks each IAM action the request needs
  with its resource, evaluated by moto's own policy evaluator against the template's statements,
  including what moto cannot see: the per-item actions of ``TransactWriteItems`` and
  ``TransactGetItems`` (IAM has no action of those names: AWS checks each item's own), the
  ``sms-voice`` API (moto has none: a Stubber or the fake endpoint answers), and the use of the
  stack's KMS key that SQS, SNS, S3, Secrets Manager and DynamoDB make with the caller's
  permissions (moto makes no such call and knows no key policy);
- nobody here checks key policies, conditions, permission boundaries or service control
  policies, nor the AWS managed policies SAM attaches (logs, X-Ray, SQS polling: AWS's own).
"""

from __future__ import annotations

import contextlib
import json
import re
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache, cached_property
from pathlib import Path
from typing import Any

import botocore.auth
import botocore.client
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from stopsms.emulator.template import Stack, holds, resources_of

ROLES = Path(__file__).with_name("roles.json")
ADMIN = "admin"  # the tests' and the local stack's own calls: set-up, assertions, plumbing

# Services whose requests moto authorises against their real resource ARN; for the others it
# evaluates "*" (see the module docstring).
_MOTO_MATCHES_RESOURCES = ("sqs:", "s3:", "iam:", "sts:")

# What a call needs of the KMS key its resource is encrypted with, when AWS uses the key with
# the caller's permissions (SQS, SNS and S3 "key management" pages; DynamoDB decrypts the
# table key through the caller, as CDK's table grants reflect).
_KMS_USE = {
    ("sqs", "SendMessage"): ("kms:GenerateDataKey", "kms:Decrypt"),
    ("sqs", "SendMessageBatch"): ("kms:GenerateDataKey", "kms:Decrypt"),
    ("sqs", "ReceiveMessage"): ("kms:Decrypt",),
    ("sns", "Publish"): ("kms:GenerateDataKey", "kms:Decrypt"),
    ("sns", "PublishBatch"): ("kms:GenerateDataKey", "kms:Decrypt"),
    ("s3", "GetObject"): ("kms:Decrypt",),
    ("s3", "PutObject"): ("kms:GenerateDataKey",),
    ("s3", "CreateMultipartUpload"): ("kms:GenerateDataKey",),
    ("s3", "UploadPart"): ("kms:Decrypt",),
    ("secretsmanager", "GetSecretValue"): ("kms:Decrypt",),
}
# Every DynamoDB request on a table encrypted with a customer managed key.
_DYNAMODB_KMS_USE = ("kms:Decrypt",)
# SQS batch operations are authorised as their single form (there is no SendMessageBatch action).
_SQS_ACTION = {
    "SendMessageBatch": "SendMessage",
    "DeleteMessageBatch": "DeleteMessage",
    "ChangeMessageVisibilityBatch": "ChangeMessageVisibility",
}
_S3_ACTION = {
    "HeadObject": "GetObject",
    "ListObjectsV2": "ListBucket",
    "ListObjects": "ListBucket",
    "HeadBucket": "ListBucket",
    "CreateMultipartUpload": "PutObject",
    "UploadPart": "PutObject",
    "CompleteMultipartUpload": "PutObject",
}
_TRANSACT_ITEM_ACTION = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
    "Get": "GetItem",
}


# The AWS managed policies SAM attaches to function roles, as AWS publishes them: what Lambda's
# runtime and event source mappings use (logs, traces, SQS polling). Granted, never reported.
AWS_MANAGED = {
    "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole": [
        "logs:CreateLogGroup",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
    ],
    "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess": [
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
        "xray:GetSamplingRules",
        "xray:GetSamplingTargets",
        "xray:GetSamplingStatisticSummaries",
    ],
    "arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole": [
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:GetQueueAttributes",
        "logs:CreateLogGroup",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
    ],
}


@dataclass(frozen=True)
class Need:
    """One authorisation a request needs: an IAM action on a resource ARN."""

    action: str
    resource: str


@cache
def _roles_document() -> dict[str, Any]:
    return json.loads(ROLES.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def principals() -> dict[str, tuple[list[dict[str, Any]], list[dict[str, Any]]]]:
    """Per principal, the template's statements (intrinsics unresolved) and those of the AWS
    managed policies it has: each function's role, and each managed policy of the template
    (the operators' and publishers')."""
    document = _roles_document()
    found = {
        name: (
            [_statement(s) for s in role["statements"]],
            [
                {"Effect": "Allow", "Action": AWS_MANAGED[arn], "Resource": "*"}
                for arn in role["managed"]
            ],
        )
        for name, role in document["functions"].items()
    }
    found.update(
        {
            name: ([_statement(s) for s in p["statements"]], [])
            for name, p in document["policies"].items()
        }
    )
    return found


def _statement(statement: Mapping[str, Any]) -> dict[str, Any]:
    """An IAM statement as AWS reads it (``roles.json`` notes the SAM policy it came from)."""
    return {key: value for key, value in statement.items() if key != "Policy"}


class Arns:
    """Physical names and ARNs of the emulated stack, by the template's logical IDs."""

    def __init__(
        self, template: Mapping[str, Any], stack: Stack, region: str, account: str
    ) -> None:
        self.template, self.stack, self.region, self.account = template, stack, region, account
        keys = resources_of(template, "AWS::KMS::Key")
        self.keys = {name: f"arn:aws:kms:{region}:{account}:key/{name}" for name in keys}
        # Which physical resource is encrypted with which of the template's keys.
        self.key_of: dict[str, str] = {}
        for name, resource in template["Resources"].items():
            if resource["Type"] == "AWS::Logs::LogGroup":
                continue  # CloudWatch Logs uses the key as itself, not as the function
            key = self._key_reference(resource.get("Properties", {}))
            if key is not None:
                with contextlib.suppress(KeyError):
                    self.key_of[self.arn(name)] = self.keys[key]

    def _key_reference(self, value: Any) -> str | None:
        if isinstance(value, dict):
            if value.get("Ref") in self.keys:
                return str(value["Ref"])
            target = value.get("Fn::GetAtt")
            if isinstance(target, list) and target[0] in self.keys:
                return str(target[0])
            value = list(value.values())
        if isinstance(value, list):
            for item in value:
                if (found := self._key_reference(item)) is not None:
                    return found
        return None

    def table(self, name: str) -> str:
        return f"arn:aws:dynamodb:{self.region}:{self.account}:table/{name}"

    def queue(self, url: str) -> str:
        for logical, known in self.stack.queues.items():
            if known == url:
                return self.stack.queue_arns[logical]
        return f"arn:aws:sqs:{self.region}:{self.account}:{url.rsplit('/', 1)[-1]}"

    def secret(self, secret_id: str) -> str:
        """A secret's full ARN from its ARN, partial ARN or name (IAM checks the full ARN)."""
        for arn in self.stack.secrets.values():
            name = arn.split(":secret:", 1)[1].rsplit("-", 1)[0]  # AWS adds "-" + 6 characters
            if secret_id in (arn, name) or arn.startswith(secret_id + "-"):
                return arn
        if secret_id.startswith("arn:"):
            return secret_id
        return f"arn:aws:secretsmanager:{self.region}:{self.account}:secret:{secret_id}"

    def arn(self, logical_id: str) -> str:
        stack = self.stack
        if logical_id in stack.tables:
            return self.table(stack.tables[logical_id])
        if logical_id in stack.queues:
            return stack.queue_arns[logical_id]
        if logical_id in stack.buckets:
            return f"arn:aws:s3:::{stack.buckets[logical_id]}"
        if logical_id in self.keys:
            return self.keys[logical_id]
        return stack.resolve(logical_id, "Arn")

    def ref(self, logical_id: str) -> str:
        pseudo = {
            "AWS::Region": self.region,
            "AWS::AccountId": self.account,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": "stopsms",
            "AWS::StackId": f"arn:aws:cloudformation:{self.region}:{self.account}"
            ":stack/stopsms/local",
        }
        if logical_id in pseudo:
            return pseudo[logical_id]
        if logical_id in self.keys:
            return logical_id
        parameters = self.template.get("Parameters", {})
        if logical_id in parameters:
            return str(parameters[logical_id].get("Default", ""))
        return self.stack.resolve(logical_id)

    def get_att(self, logical_id: str, attribute: str) -> str:
        if attribute == "Arn":
            return self.arn(logical_id)
        if attribute == "QueueName":
            return self.stack.queues[logical_id].rsplit("/", 1)[-1]
        return self.stack.resolve(logical_id, attribute)

    def resolve(self, value: Any) -> Any:
        """A template value with its intrinsic functions replaced by this stack's values."""
        if isinstance(value, list):
            items = (self.resolve(item) for item in value)
            return [item for item in items if item is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if value.get("Ref") == "AWS::NoValue":
            return NO_VALUE
        if "Ref" in value:
            return self.ref(value["Ref"])
        if "Fn::GetAtt" in value:
            logical_id, attribute = value["Fn::GetAtt"]
            return self.get_att(logical_id, attribute)
        if "Fn::Sub" in value:
            text, variables = value["Fn::Sub"], {}
            if isinstance(text, list):
                text, variables = text[0], {k: self.resolve(v) for k, v in text[1].items()}

            def substitute(match: re.Match[str]) -> str:
                name = match.group(1)
                if name in variables:
                    return str(variables[name])
                if "." in name and not name.startswith("AWS::"):
                    logical_id, attribute = name.split(".", 1)
                    return self.get_att(logical_id, attribute)
                return self.ref(name)

            resolved = re.sub(r"\$\{([^}!]+)\}", substitute, text)
            return resolved.replace("${!", "${")  # ${!Literal} is the text ${Literal}
        if "Fn::If" in value:
            condition, when_true, when_false = value["Fn::If"]
            return self.resolve(when_true if holds(condition, self.template) else when_false)
        if "Fn::Select" in value:
            index, items = value["Fn::Select"]
            return self.resolve(items)[int(index)]
        if "Fn::Split" in value:
            delimiter, text = value["Fn::Split"]
            return str(self.resolve(text)).split(delimiter)
        if unknown := [key for key in value if key.startswith("Fn::")]:
            raise ValueError(f"unsupported intrinsic function {unknown[0]} in a policy")
        return {key: self.resolve(item) for key, item in value.items()}


NO_VALUE = object()  # ``!Ref AWS::NoValue``: the item is left out of its list


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def needs(arns: Arns, service: str, operation: str, params: Mapping[str, Any]) -> list[Need]:
    """Every authorisation AWS makes for this request (the request's own, then KMS)."""
    found: list[Need] = []
    if service == "dynamodb":
        if operation in ("TransactWriteItems", "TransactGetItems"):
            for item in params.get("TransactItems", []):
                kind, body = next(iter(item.items()))
                action = _TRANSACT_ITEM_ACTION[kind]
                found.append(Need(f"dynamodb:{action}", arns.table(body["TableName"])))
        elif operation in ("BatchGetItem", "BatchWriteItem"):
            for table in params.get("RequestItems", {}):
                found.append(Need(f"dynamodb:{operation}", arns.table(table)))
        else:
            resource = arns.table(params.get("TableName", "*"))
            if index := params.get("IndexName"):
                resource = f"{resource}/index/{index}"
            found.append(Need(f"dynamodb:{operation}", resource))
        # The table key is decrypted through the caller (only the base table is keyed).
        resources = {need.resource.split("/index/")[0] for need in found}
    elif service == "sqs":
        resource = arns.queue(params.get("QueueUrl", "*"))
        found.append(Need(f"sqs:{_SQS_ACTION.get(operation, operation)}", resource))
        resources = {resource}
    elif service == "s3":
        bucket = params.get("Bucket", "*")
        key = params.get("Key")
        resource = f"arn:aws:s3:::{bucket}/{key}" if key is not None else f"arn:aws:s3:::{bucket}"
        action = _S3_ACTION.get(operation, operation)
        if action == "GetObject" and "VersionId" in params:
            action = "GetObjectVersion"
        found.append(Need(f"s3:{action}", resource))
        if action == "PutObject" and "Tagging" in params:
            found.append(Need("s3:PutObjectTagging", resource))
        resources = {f"arn:aws:s3:::{bucket}"}
    elif service == "secretsmanager":
        resource = arns.secret(params.get("SecretId", "*"))
        found.append(Need(f"secretsmanager:{operation}", resource))
        resources = {resource}
    elif service == "sns":
        resource = params.get("TopicArn", "*")
        action = "Publish" if operation == "PublishBatch" else operation
        found.append(Need(f"sns:{action}", resource))
        resources = {resource}
    elif service == "sms-voice":
        prefix = f"arn:aws:sms-voice:{arns.region}:{arns.account}"
        if "OptOutListName" in params:
            resource = f"{prefix}:opt-out-list/{params['OptOutListName']}"
        elif identity := params.get("OriginationIdentity"):
            resource = identity if identity.startswith("arn:") else f"{prefix}:{_kind(identity)}"
        else:
            resource = f"{prefix}:*"
        found.append(Need(f"sms-voice:{operation}", resource))
        if configuration_set := params.get("ConfigurationSetName"):
            found.append(
                Need(f"sms-voice:{operation}", _configuration_set(prefix, configuration_set))
            )
        resources = set()
    else:
        found.append(Need(f"{service}:{operation}", "*"))
        resources = set()
    default = _DYNAMODB_KMS_USE if service == "dynamodb" else ()
    for kms_action in _KMS_USE.get((service, operation), default):
        for resource in sorted(resources):
            if key := arns.key_of.get(resource):
                found.append(Need(kms_action, key))
    return found


def _kind(identity: str) -> str:
    """The resource an End User Messaging origination identity names. IAM names a phone number
    by its ID and a sender ID with its country: an E.164 number, a short code or a bare sender
    ID can only be placed under its kind (the roles grant ``…:*``, which covers them)."""
    if identity.startswith("pool-"):
        return f"pool/{identity}"
    if identity.startswith("phone-"):
        return f"phone-number/{identity}"
    if identity.lstrip("+").isdigit():
        return "phone-number/*"
    return f"sender-id/{identity}/*"


def _configuration_set(prefix: str, name: str) -> str:
    return name if name.startswith("arn:") else f"{prefix}:configuration-set/{name}"


def _denied(service: str, need: Need) -> tuple[str, int]:
    """The error code and HTTP status each service answers a refused request with (code that
    tells "access denied" from a transient failure must see what AWS would send)."""
    if service == "sqs" and need.action.startswith("kms:"):
        return "KmsAccessDenied", 400
    if service == "sns" and need.action.startswith("kms:"):
        return "KMSAccessDenied", 400
    if service in ("s3", "sqs"):
        return "AccessDenied", 403
    if service == "sns":
        return "AuthorizationError", 403
    return "AccessDeniedException", 400


@dataclass
class Principal:
    name: str
    statements: list[dict[str, Any]]  # the template's, resolved
    managed: list[dict[str, Any]] = field(default_factory=list)  # AWS's (see AWS_MANAGED)
    credentials: Credentials | None = None
    used: Counter[Need] = field(default_factory=Counter)

    def allows(self, need: Need) -> bool:
        """What moto's own policy evaluator answers for this need."""
        from moto.iam.access_control import PermissionResult  # development dependency

        answer = self._policy.is_action_permitted(need.action, need.resource)
        return bool(answer == PermissionResult.PERMITTED)

    @cached_property
    def _policy(self) -> Any:
        """Parsed once, not at every request (a principal's statements do not change)."""
        from moto.iam.access_control import IAMPolicy  # development dependency

        return IAMPolicy(json.dumps({"Statement": self.statements + self.managed}))

    def grants(self) -> Iterator[tuple[str, str]]:
        """Each (action, resource) pair of its template statements, as written."""
        for statement in self.statements:
            for action in _as_list(statement["Action"]):
                for resource in _as_list(statement.get("Resource", "*")):
                    yield action, resource


@dataclass
class Refusal:
    principal: str
    operation: str
    need: str

    def __str__(self) -> str:
        return f"{self.principal}: {self.operation} refused ({self.need})"


_ACTIVE: Enforcement | None = None
# Who acts now: one per process, not a ContextVar, because a function's worker threads (the
# fan-out's pool) must act as the function too and threads do not inherit a context.
_ACTING: str | None = None
_PATCHED = False


class Enforcement:
    """IAM users for the template's principals, and who is acting now.

    Use ``with enforcement.active():`` around the emulated account's lifetime, and
    ``with enforcement.acting_as("SenderFunction"):`` around a function's invocation.
    """

    def __init__(
        self, template: Mapping[str, Any], stack: Stack, region: str, account: str
    ) -> None:
        self.arns = Arns(template, stack, region, account)
        self.template = template
        self.principals = {
            name: Principal(name, self.arns.resolve(statements), managed)
            for name, (statements, managed) in principals().items()
        }
        self.principals[ADMIN] = Principal(
            ADMIN, [{"Effect": "Allow", "Action": "*", "Resource": "*"}]
        )
        self.refusals: list[Refusal] = []
        self._functions_by_code = {
            str(props.get("CodeUri", "")).strip("/").rsplit("/", 1)[-1]: name
            for name, props in resources_of(template, "AWS::Serverless::Function").items()
        }

    # -- set-up -------------------------------------------------------------------------
    def create_users(self, iam: Any) -> None:
        """One emulator user per principal, with its statements as moto can evaluate them."""
        for principal in self.principals.values():
            iam.create_user(UserName=principal.name)
            iam.put_user_policy(
                UserName=principal.name,
                PolicyName="template",
                PolicyDocument=json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": _for_moto(principal.statements + principal.managed),
                    }
                ),
            )
            key = iam.create_access_key(UserName=principal.name)["AccessKey"]
            principal.credentials = Credentials(key["AccessKeyId"], key["SecretAccessKey"])

    def adopt_credentials(self, keys: Mapping[str, Mapping[str, str]]) -> None:
        """The principals' keys, as another process created them (``local up``)."""
        for name, pair in keys.items():
            if pair:
                self.principals[name].credentials = Credentials(
                    pair["AWS_ACCESS_KEY_ID"], pair["AWS_SECRET_ACCESS_KEY"]
                )

    def function_named(self, directory: str) -> str:
        """The logical ID of the function whose code is ``functions/<directory>/``."""
        return self._functions_by_code[directory]

    # -- activity ---------------------------------------------------------------------------
    @contextlib.contextmanager
    def active(self, *, emulator_in_process: bool = True) -> Iterator[Enforcement]:
        """Every request of this process is signed as its principal and checked (and, when
        the emulator runs in this process, the emulator enforces IAM too)."""
        from moto import settings  # development dependency
        from moto.core.authorization import ActionAuthenticatorMixin

        global _ACTIVE
        _install_patches()
        previous = (_ACTIVE, settings.INITIAL_NO_AUTH_ACTION_COUNT)
        _ACTIVE = self
        if emulator_in_process:
            settings.INITIAL_NO_AUTH_ACTION_COUNT = 0
            ActionAuthenticatorMixin.request_count = 0
        try:
            yield self
        finally:
            _ACTIVE, settings.INITIAL_NO_AUTH_ACTION_COUNT = previous

    @contextlib.contextmanager
    def acting_as(self, name: str) -> Iterator[None]:
        global _ACTING
        if name not in self.principals:
            raise KeyError(f"{name} is no principal of the template")
        previous, _ACTING = _ACTING, name
        try:
            yield
        finally:
            _ACTING = previous

    @contextlib.contextmanager
    def invocation(self, function: str) -> Iterator[None]:
        """One invocation of ``function`` as Lambda makes it, in a process of its own: the
        process's caches of what its role reads start empty (else a key another principal read
        would hide a refusal), Lambda polls the source, the code runs as the role, and a failure
        goes to the ``OnFailure`` destination."""
        from stopsms.consent import erasure  # its HMAC key is cached by the process
        from stopsms.dal import contacts  # and whether the contact table is migrated

        erasure.forget_key()
        contacts.forget_migrated()
        self.invoked_by_lambda(function)
        try:
            with self.acting_as(function):
                yield
        except Exception:
            self.failed_in_lambda(function)
            raise
        finally:
            erasure.forget_key()
            contacts.forget_migrated()

    def invoked_by_lambda(self, function: str) -> None:
        """What Lambda itself does with a function's role before an invocation: it polls the
        function's SQS event sources (encrypted with the stack's key)."""
        properties = resources_of(self.template, "AWS::Serverless::Function")[function]
        queues = [
            event["Properties"]["Queue"]["Fn::GetAtt"][0]
            for event in properties.get("Events", {}).values()
            if event["Type"] == "SQS"
        ]
        with self.acting_as(function):
            for queue in queues:
                self.authorise("sqs", "ReceiveMessage", {"QueueUrl": self.arns.stack.queues[queue]})

    def failed_in_lambda(self, function: str) -> None:
        """What Lambda does with the role when an asynchronous invocation fails for good: it
        sends the event to the function's ``OnFailure`` queue, if it has one."""
        properties = resources_of(self.template, "AWS::Serverless::Function")[function]
        destination = (
            properties.get("EventInvokeConfig", {})
            .get("DestinationConfig", {})
            .get("OnFailure", {})
            .get("Destination")
        )
        if destination:
            queue = self.arns.stack.queues[destination["Fn::GetAtt"][0]]
            with self.acting_as(function):
                self.authorise("sqs", "SendMessage", {"QueueUrl": queue})

    def authorise(self, service: str, operation: str, params: Mapping[str, Any]) -> None:
        """Raise AccessDenied, as AWS would, unless the acting principal may make this call."""
        principal = self.principals[_ACTING or ADMIN]
        for need in needs(self.arns, service, operation, params):
            principal.used[need] += 1
            if principal.name == ADMIN or principal.allows(need):
                continue
            self.refusals.append(
                Refusal(principal.name, operation, f"{need.action} on {need.resource}")
            )
            code, status = _denied(service, need)
            error: Any = {
                "Error": {
                    "Code": code,
                    "Message": f"{principal.name} is not authorized to perform "
                    f"{need.action} on {need.resource}",
                },
                "ResponseMetadata": {"HTTPStatusCode": status},
            }
            raise ClientError(error, operation)

    # -- reports ------------------------------------------------------------------------
    def unused(self, name: str) -> list[str]:
        """Each action of the principal's statements, on each of its resources, that no
        request of this run needed: ``"<action> on <resource>"``."""
        from moto.iam.access_control import IAMPolicyStatement  # development dependency

        principal = self.principals[name]
        lines = []
        for action, resource in principal.grants():
            narrow = IAMPolicyStatement({"Effect": "Allow", "Action": action, "Resource": resource})
            if not any(
                narrow._check_element_matches("Action", need.action)
                and narrow._check_element_matches("Resource", need.resource)
                for need in principal.used
            ):
                lines.append(f"{action} on {self._logical(resource)}")
        return lines

    def wildcards(self, name: str) -> list[str]:
        """Each grant of the principal's statements whose action or resource is a pattern: one
        use makes it "used" whatever else it allows, so each needs its own reason."""
        return [
            f"{action} on {self._logical(resource)}"
            for action, resource in self.principals[name].grants()
            if "*" in action or "*" in resource
        ]

    def duplicates(self, name: str) -> list[str]:
        """Each action on a resource that more than one statement grants."""
        granted = Counter(
            f"{action} on {self._logical(resource)}"
            for action, resource in self.principals[name].grants()
        )
        return [line for line, count in granted.items() if count > 1]

    @cached_property
    def _names(self) -> list[tuple[str, str]]:
        """(ARN, logical ID) of the stack's resources, longest ARN first."""
        names: dict[str, str] = {
            self.arns.arn(n): n for n in self.arns.template["Resources"] if _has_arn(self.arns, n)
        }
        names[self.arns.ref("AWS::StackId")] = "AWS::StackId"
        return sorted(names.items(), key=lambda item: -len(item[0]))

    def _logical(self, resource: str) -> str:
        """An ARN as the template names it (``DeliveriesTable``, ``DataKey``…)."""
        for arn, name in self._names:
            if resource == arn:
                return name
            if resource.startswith(arn + "/"):
                return name + resource[len(arn) :]
        return resource.replace(f"{self.arns.region}:{self.arns.account}", "<region>:<account>")


def _has_arn(arns: Arns, logical_id: str) -> bool:
    try:
        arns.arn(logical_id)
    except KeyError:
        return False
    return True


# The action names moto checks for requests IAM authorises under another name: the batch forms
# of SQS calls, and DynamoDB transactions (each item's own action is checked by ``authorise``).
_MOTO_NAMES = {
    "sqs:SendMessage": ("sqs:SendMessageBatch",),
    "sqs:DeleteMessage": ("sqs:DeleteMessageBatch",),
    "sqs:ChangeMessageVisibility": ("sqs:ChangeMessageVisibilityBatch",),
    "dynamodb:PutItem": ("dynamodb:TransactWriteItems",),
    "dynamodb:UpdateItem": ("dynamodb:TransactWriteItems",),
    "dynamodb:DeleteItem": ("dynamodb:TransactWriteItems",),
    "dynamodb:ConditionCheckItem": ("dynamodb:TransactWriteItems",),
    "dynamodb:GetItem": ("dynamodb:TransactGetItems",),
}


def _for_moto(statements: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The statements as moto can evaluate them: resources widened to "*" where it evaluates
    "*", and each action also granted under the name moto checks for it."""
    shown = []
    for statement in statements:
        actions = _as_list(statement["Action"])
        moto_statement = {k: v for k, v in statement.items() if k != "Policy"}
        if not all(a.startswith(_MOTO_MATCHES_RESOURCES) for a in actions):
            moto_statement["Resource"] = "*"
        aliases = [alias for a in actions for alias in _MOTO_NAMES.get(a, ())]
        moto_statement["Action"] = sorted({*actions, *aliases})
        shown.append(moto_statement)
    return shown


_REFUSED = (
    "AccessDenied",
    "AccessDeniedException",
    "InvalidClientTokenId",
    "SignatureDoesNotMatch",
    "UnrecognizedClientException",
)


def _install_patches() -> None:
    """Sign each request with the acting principal's keys, and authorise it first."""
    global _PATCHED
    if _PATCHED:
        return
    _PATCHED = True
    client_class: Any = botocore.client.BaseClient  # its _make_api_call is not in the stubs
    make_api_call = client_class._make_api_call
    add_auth = botocore.auth.SigV4Auth.add_auth

    def checked_call(self: Any, operation_name: str, api_params: dict[str, Any]) -> Any:
        if _ACTIVE is not None:
            _ACTIVE.authorise(self.meta.service_model.signing_name, operation_name, api_params)
        try:
            return make_api_call(self, operation_name, api_params)
        except ClientError as error:
            # moto answers some JSON-protocol clients in XML: the code is lost, the status kept.
            status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            code = error.response.get("Error", {}).get("Code")
            if _ACTIVE is not None and (status == 403 or code in _REFUSED):
                _ACTIVE.refusals.append(
                    Refusal(_ACTING or ADMIN, operation_name, f"emulator: {error}")
                )
            raise

    def signed_as_actor(self: Any, request: Any) -> Any:
        if _ACTIVE is not None:
            self.credentials = _ACTIVE.principals[_ACTING or ADMIN].credentials
        return add_auth(self, request)

    client_class._make_api_call = checked_call
    botocore.auth.SigV4Auth.add_auth = signed_as_actor  # type: ignore[method-assign]


def current() -> Enforcement | None:
    """The enforcement in force in this process, if any."""
    return _ACTIVE
