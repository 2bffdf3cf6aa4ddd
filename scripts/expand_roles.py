"""Write the IAM statements of every role and managed policy of template.yaml as SAM expands
them, for the tests and the local stack that run each function with only those permissions.

Runs in the SAM virtualenv (``samtranslator`` pins a pydantic the application does not use):

    .venv-sam/bin/python scripts/expand_roles.py          # rewrite the file
    .venv-sam/bin/python scripts/expand_roles.py --check  # fail if it is stale (make validate)
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "template.yaml"
OUTPUT = ROOT / "tooling" / "stopsms" / "emulator" / "roles.json"


def expand() -> dict[str, Any]:
    from samtranslator.translator.transform import transform
    from samtranslator.yaml_helper import yaml_parse

    os.environ.setdefault("AWS_DEFAULT_REGION", "eu-west-3")  # a pseudo parameter SAM needs
    template = yaml_parse(TEMPLATE.read_text(encoding="utf-8"))
    for resource in template["Resources"].values():
        properties = resource.get("Properties", {})
        for key in ("CodeUri", "ContentUri"):  # SAM accepts only S3 URIs before `sam build`
            if key in properties:
                properties[key] = "s3://bucket/key"

    class NoManagedPolicies:  # AWS managed policies are kept as ARNs, never looked up
        def load(self) -> dict[str, str]:
            return {}

    resources = transform(template, {}, NoManagedPolicies())["Resources"]
    roles: dict[str, Any] = {}
    for name, resource in resources.items():
        if resource["Type"] != "AWS::IAM::Role":
            continue
        trusted = resource["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]
        if trusted["Principal"].get("Service") != ["lambda.amazonaws.com"]:
            continue  # the scheduler's invoke role: the service's, not a function's
        function = name.removesuffix("Role")
        roles[function] = {
            "managed": resource["Properties"].get("ManagedPolicyArns", []),
            "statements": [
                {"Policy": policy["PolicyName"], **statement}
                for policy in resource["Properties"].get("Policies", [])
                for statement in policy["PolicyDocument"]["Statement"]
            ],
        }
    policies = {
        name: {"statements": resource["Properties"]["PolicyDocument"]["Statement"]}
        for name, resource in resources.items()
        if resource["Type"] == "AWS::IAM::ManagedPolicy"
    }
    return {"functions": roles, "policies": policies}


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=1, sort_keys=True) + "\n"


def main() -> int:
    text = render(expand())
    if "--check" in sys.argv:
        if OUTPUT.read_text(encoding="utf-8") != text:
            print(f"{OUTPUT.relative_to(ROOT)} is stale: run 'make roles' and commit it.")
            return 1
        return 0
    OUTPUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUTPUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
