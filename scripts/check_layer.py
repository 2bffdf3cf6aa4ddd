"""Check the layer ``sam build`` produced: only the runtime package, and every module of it
importable with only the layer's requirements (plus boto3, as the Lambda runtime has it).

    .venv-layer/bin/python scripts/check_layer.py   # after `sam build` (make build runs it)

The built ``python/`` also holds the requirements, built for arm64: only its ``stopsms`` tree is
imported here, over the requirements installed for this machine in ``.venv-layer``. Each
module is imported in a fresh isolated interpreter (``-I``: no PYTHONPATH, no user site, no
tooling on the path), so one module's import never hides another's missing dependency.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "layers" / "stopsms" / "stopsms"
BUILT = ROOT / ".aws-sam" / "build" / "StopSmsLayer" / "python" / "stopsms"
# A function's environment as Lambda gives it: nothing is called at import, but settings or
# Powertools may read these.
ENV = {
    "AWS_REGION": "eu-west-3",
    "AWS_DEFAULT_REGION": "eu-west-3",
    "AWS_LAMBDA_FUNCTION_NAME": "stopsms-check",
    "POWERTOOLS_SERVICE_NAME": "stopsms",
    "PATH": "/usr/bin:/bin",
}


def modules(package: Path) -> list[str]:
    """Dotted names of every module under ``package`` (``stopsms.rules.phones``...)."""
    names = []
    for path in sorted(package.rglob("*.py")):
        parts = path.relative_to(package.parent).with_suffix("").parts
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def files(package: Path) -> set[str]:
    return {
        str(p.relative_to(package))
        for p in package.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }


def main() -> int:
    if not BUILT.is_dir():
        print(f"{BUILT.relative_to(ROOT)} is missing: run 'make build' first.")
        return 1
    problems = []
    extra, missing = files(BUILT) - files(SOURCE), files(SOURCE) - files(BUILT)
    problems += [f"shipped but not in layers/stopsms/stopsms: {name}" for name in sorted(extra)]
    problems += [f"in layers/stopsms/stopsms but not shipped: {name}" for name in sorted(missing)]
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copytree(BUILT, Path(tmp) / "stopsms")
        names = modules(Path(tmp) / "stopsms")
        for name in names:
            code = f"import sys; sys.path.insert(0, {tmp!r}); import {name}"
            run = subprocess.run(
                [sys.executable, "-I", "-c", code], env=ENV, capture_output=True, text=True
            )
            if run.returncode:
                last = (run.stderr.strip().splitlines() or ["?"])[-1]
                problems.append(f"{name} does not import: {last}")
    for problem in problems:
        print(f"layer: {problem}")
    if problems:
        return 1
    print(f"layer: {len(names)} modules, all runtime, each imports with the layer's requirements")
    return 0


if __name__ == "__main__":
    sys.exit(main())
