# StopSMS — every target sets up what it needs; a fresh clone only needs `make test` or `make demo`.
SHELL := /bin/bash
export SAM_CLI_TELEMETRY := 0
.DEFAULT_GOAL := help

PYTHON   ?= $(shell scripts/find-python.sh 2>/dev/null || command -v python3)
VENV     := .venv
VENV_SAM := .venv-sam
VENV_CHECKS := .venv-checks
VENV_LAYER := .venv-layer
PY       := $(VENV)/bin/python
SAM      := $(VENV_SAM)/bin/sam
# `sam build` looks for the runtime's interpreter (python3.12) on PATH.
SAM_PATH := $(dir $(PYTHON)):$(PATH)

.PHONY: help venv demo test unit browser lint typecheck validate checks build deploy bench schemas roles clean

help:
	@echo "make demo      run the whole pipeline locally (embedded AWS emulator)"
	@echo "make test      lint, type-check, tests with coverage, sam validate --lint, checks, sam build"
	@echo "make venv      create .venv (tests, tools, python -m stopsms)"
	@echo "make lint      ruff check and ruff format --check"
	@echo "make typecheck mypy (strict)"
	@echo "make unit      pytest on every core (installs Chromium first when missing)"
	@echo "make validate  sam validate --lint, and the roles the tests enforce are the template's"
	@echo "make build     sam build, then check the built layer"
	@echo "make checks    security checks of template.yaml (cfn-lint, checkov)"
	@echo "make deploy    sam build, then sam deploy (guided the first time; CONFIG_ENV=dev|prod)"
	@echo "make bench     benchmarks (prints figures)"
	@echo "make schemas   regenerate schemas/*.schema.json from the models (CI checks them)"
	@echo "make roles     regenerate the IAM statements the tests enforce from template.yaml"
	@echo "make clean     remove the virtualenvs, build and test outputs"

$(VENV)/.installed: requirements-dev.txt layers/stopsms/requirements.txt
	@case "$$($(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])')" in \
	  3.12) ;; *) echo "WARNING: $(PYTHON) is not Python 3.12 (the Lambda runtime); tests will run on it, sam build will not." >&2;; esac
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	@# The layer is importable as Lambda sees it (/opt/python), without installing a copy; the
	@# operator tooling (python -m stopsms) adds its modules to the same namespace from tooling/.
	printf '%s\n' "$(CURDIR)/layers/stopsms" "$(CURDIR)/tooling" > "$$($(PY) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/stopsms-layer.pth"
	touch $@

$(VENV_SAM)/.installed: requirements-sam.txt
	$(PYTHON) -m venv $(VENV_SAM)
	$(VENV_SAM)/bin/python -m pip install --quiet --upgrade pip
	$(VENV_SAM)/bin/python -m pip install --quiet -r requirements-sam.txt
	touch $@

# checkov pins its own versions of boto3, pydantic…: a third virtualenv.
$(VENV_CHECKS)/.installed: requirements-checks.txt
	$(PYTHON) -m venv $(VENV_CHECKS)
	$(VENV_CHECKS)/bin/python -m pip install --quiet --upgrade pip
	$(VENV_CHECKS)/bin/python -m pip install --quiet -r requirements-checks.txt
	touch $@

# What Lambda has: the runtime (boto3) and the layer's requirements, nothing of the tooling.
$(VENV_LAYER)/.installed: layers/stopsms/requirements.txt
	$(PYTHON) -m venv $(VENV_LAYER)
	$(VENV_LAYER)/bin/python -m pip install --quiet --upgrade pip
	$(VENV_LAYER)/bin/python -m pip install --quiet -r layers/stopsms/requirements.txt boto3
	touch $@

venv: $(VENV)/.installed

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: venv
	$(VENV)/bin/mypy

# One worker per core (pytest-xdist): the handler and end-to-end tests are CPU-bound on moto.
# The HTML reports are opened in a real headless browser (tests/pages): it must be there.
unit: venv browser
	STOPSMS_REQUIRE_BROWSER=1 $(VENV)/bin/pytest -n auto

browser:
	scripts/ensure-chromium.sh

# The tests run each function with the statements SAM expands from the template: they must
# be those of this template.
validate: $(VENV_SAM)/.installed
	$(SAM) validate --lint --region eu-west-3
	$(VENV_SAM)/bin/python scripts/expand_roles.py --check

# Exceptions are skip comments next to their resource in template.yaml, each with its reason.
checks: $(VENV_SAM)/.installed $(VENV_CHECKS)/.installed
	$(VENV_SAM)/bin/cfn-lint template.yaml
	$(VENV_CHECKS)/bin/checkov -f template.yaml --framework cloudformation --quiet --compact --skip-download
	@echo "checks: cfn-lint and checkov passed"

# Then the built layer must hold only the runtime package, each module importable in Lambda.
build: $(VENV_SAM)/.installed $(VENV_LAYER)/.installed
	PATH="$(SAM_PATH)" $(SAM) build --region eu-west-3
	$(VENV_LAYER)/bin/python scripts/check_layer.py

# The venv's SAM (no global install needed); docs/DEPLOY.md says what to prepare first.
deploy: build venv
	PATH="$(SAM_PATH)" $(VENV)/bin/python scripts/deploy.py

# validate first: it checks that the roles the tests enforce are the template's.
test: lint typecheck validate unit checks build

demo: venv
	$(PY) -m stopsms demo

bench: venv
	PYTHONPATH=. $(PY) -m benchmarks

# The JSON Schemas publishers validate against; tests/unit/test_schemas.py fails when stale.
schemas: venv
	$(PY) -m stopsms schemas

# After changing a policy in template.yaml: the statements the tests and `make demo` enforce.
roles: $(VENV_SAM)/.installed
	$(VENV_SAM)/bin/python scripts/expand_roles.py

clean:
	rm -rf $(VENV) $(VENV_SAM) $(VENV_CHECKS) $(VENV_LAYER) .aws-sam .pytest_cache .mypy_cache .ruff_cache .coverage test-artifacts
