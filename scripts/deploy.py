"""``make deploy [CONFIG_ENV=dev]``: ``sam deploy``, guided the first time, then
``python -m stopsms migrate`` (the data the previous version stored, in the current form).

The first deployment of a stack asks for its parameters (``sam deploy --guided``, which saves
the answers in samconfig.toml); the next ones reuse them. Whether it is the first is asked of
CloudFormation, not guessed from files: samconfig.toml ships with defaults for every environment.
Hand-written because SAM has no "guided only when new" switch.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAM = ROOT / ".venv-sam" / "bin" / "sam"


def main() -> int:
    environment = os.environ.get("CONFIG_ENV", "default")
    config = tomllib.loads((ROOT / "samconfig.toml").read_text(encoding="utf-8"))
    known = sorted(name for name, value in config.items() if isinstance(value, dict))
    if environment not in known:
        print(
            f"samconfig.toml has no environment {environment!r}: CONFIG_ENV is one of "
            f"{', '.join(known)}",
            file=sys.stderr,
        )
        return 2
    deploy = config.get(environment, {}).get("deploy", {}).get("parameters", {})
    shared = config.get("default", {}).get("global", {}).get("parameters", {})
    stack = deploy.get("stack_name") or shared.get("stack_name")
    region = deploy.get("region") or os.environ.get("AWS_REGION", "eu-west-3")
    if not stack:
        print(f"samconfig.toml names no stack for CONFIG_ENV={environment}", file=sys.stderr)
        return 2
    command = [str(SAM), "deploy", "--config-env", environment]
    if not _exists(stack, region):
        print(f"{stack} is not deployed in {region} yet: guided deployment", file=sys.stderr)
        command += ["--guided", "--stack-name", stack, "--region", region]
    deployed = subprocess.call(command, cwd=ROOT)  # the venv's SAM, fixed arguments
    if deployed != 0:
        return deployed
    # Once the update is complete (no function of the previous version runs any more).
    migrate = [
        sys.executable,
        "-m",
        "stopsms",
        "migrate",
        "--stack-name",
        stack,
        "--region",
        region,
    ]
    return subprocess.call(migrate, cwd=ROOT, env=os.environ | {"PYTHONPATH": _paths()})


def _paths() -> str:
    return os.pathsep.join(str(ROOT / p) for p in ("layers/stopsms", "tooling"))


def _exists(stack: str, region: str) -> bool:
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        boto3.client("cloudformation", region_name=region).describe_stacks(StackName=stack)
    except ClientError as error:
        if "does not exist" in str(error):
            return False
        raise SystemExit(f"cannot read CloudFormation in {region}: {error}") from None
    except BotoCoreError as error:  # no credentials, no network: sam would fail the same way
        raise SystemExit(f"AWS is not reachable with these settings: {error}") from None
    return True


if __name__ == "__main__":
    sys.exit(main())
