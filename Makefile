# Everyday tasks. Each target builds the virtual environment first, so every
# one of them works from a fresh clone with Python 3.11+ on PATH.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
TFGEN  := $(BIN)/tfgen
OUT    ?= build
ENV    ?=

# terraform installs the AWS provider from a local filesystem mirror when
# TFGEN_PLUGIN_DIR names one (see README). Unless it is set, look for the
# mirror once and remember it in the venv.
ifeq ($(filter clean help,$(MAKECMDGOALS)),)
-include $(VENV)/terraform.mk
endif
export TFGEN_PLUGIN_DIR

# checkov gets a virtual environment of its own, so its dependency pins never
# meet the project's. Bump CHECKOV_VERSION on purpose: new releases add checks.
CHECKOV_VENV    := .venv-checkov
CHECKOV         := $(CHECKOV_VENV)/bin/checkov
CHECKOV_VERSION := 3.3.30
CHECKOV_STAMP   := $(CHECKOV_VENV)/.checkov-$(CHECKOV_VERSION)
ENVS            := $(filter-out defaults,$(basename $(notdir $(wildcard environments/*.yaml))))

.PHONY: help venv dev render envs check diff validate fmt-check compliance test e2e bench preflight init plan apply destroy clean rds-ca-bundle

help:
	@echo "make render | test | validate | fmt-check | compliance | bench | e2e | rds-ca-bundle | clean"
	@echo "make preflight ENV=<env> [ARGS=--format=json]"
	@echo "make init|plan|apply|destroy ENV=<env> [ARGS='extra terraform args']"
	@echo "make apply ENV=<env> [ALLOW='--allow-data-loss ADDRESS ...'] applies the plan make plan saved"

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	@touch $@

$(VENV)/.dev-installed: $(VENV)/.installed pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

$(VENV)/terraform.mk: | $(VENV)/.installed
	@dir="$${TFGEN_PLUGIN_DIR:-$$(find / -xdev \( -path /proc -o -path /sys \) -prune -o \
	    -name 'terraform-provider-aws_*' -path '*/registry.terraform.io/*' -print -quit 2>/dev/null \
	    | sed 's#/registry.terraform.io/.*##')}"; \
	  echo "TFGEN_PLUGIN_DIR ?= $$dir" > $@; echo "provider mirror: $${dir:-none found}"

$(VENV)/.aws-installed: $(VENV)/.installed pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[aws]'
	@touch $@

venv: $(VENV)/.installed
dev: $(VENV)/.dev-installed

render: $(VENV)/.installed
	$(TFGEN) render --all --out $(OUT)

envs: $(VENV)/.installed
	$(TFGEN) envs

check: $(VENV)/.installed
	$(TFGEN) check --out $(OUT)

diff: $(VENV)/.installed
	$(TFGEN) diff --out $(OUT) $(ENV)

validate: render
	$(TFGEN) validate --out $(OUT)

fmt-check: render
	terraform fmt -check -recursive -diff $(OUT)

$(CHECKOV_STAMP):
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/python -m pip install --quiet 'checkov==$(CHECKOV_VERSION)'
	@rm -f $(CHECKOV_VENV)/.checkov-*
	@touch $@

# Every check on every rendered environment; a skip exists only as a
# `#checkov:skip` comment the templates write from compliance.skips.
compliance: render $(CHECKOV_STAMP)
	@status=0; for env in $(ENVS); do \
	  echo "checkov: $(OUT)/$$env"; \
	  $(CHECKOV) --directory $(OUT)/$$env --framework terraform --quiet --compact --skip-download \
	    || status=1; \
	done; exit $$status

# The end-to-end data plane checks IAM with @cloud-copilot/iam-simulate (Node), pinned in
# tests/e2e/package-lock.json (tests/e2e/iam_audit.py).
E2E_NODE_STAMP := tests/e2e/node_modules/.installed

$(E2E_NODE_STAMP): tests/e2e/package.json tests/e2e/package-lock.json
	npm ci --prefix tests/e2e --no-audit --no-fund --loglevel=error
	@touch $@

# tests/test_compliance.py runs checkov from $(CHECKOV_VENV), built here so it never skips.
# Five pytest workers, one test module each at a time, in collection order (tests/conftest.py):
# the four end-to-end modules that deploy a stack (tests/e2e/test_day2.py, test_release.py,
# test_adopt.py, test_apply.py; each mostly waits on its own emulator) start at once on four of
# them while the fifth takes the rest. TEST_JOBS=0 runs everything in one process.
TEST_JOBS ?= 5
test: $(VENV)/.dev-installed $(CHECKOV_STAMP) $(E2E_NODE_STAMP)
	$(BIN)/python -m pytest $(if $(filter 0,$(TEST_JOBS)),,-n $(TEST_JOBS) --dist loadfile --no-loadscope-reorder) \
	  --cov=lambdas --cov-report=term:skip-covered --cov-fail-under=95 $(PYTEST_ARGS)

e2e: $(VENV)/.dev-installed $(E2E_NODE_STAMP)
	$(BIN)/python -m pytest -m e2e -p no:cacheprovider -s $(PYTEST_ARGS)

bench: $(VENV)/.installed
	$(BIN)/python tests/bench/run.py

# The Amazon RDS CA bundle the rotation function verifies the database with, from AWS's trust
# store; the download must match the SHA-256 pinned in lambdas/certs (review a new bundle, then
# update the pin on purpose). The bundle is in the repository: rendering never downloads it.
RDS_CA_BUNDLE_URL := https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem
RDS_CA_BUNDLE     := lambdas/certs/rds-global-bundle.pem

rds-ca-bundle:
	@tmp=$$(mktemp) && trap 'rm -f "$$tmp"' EXIT && \
	  curl --fail --silent --show-error --location --proto '=https' --tlsv1.2 -o "$$tmp" '$(RDS_CA_BUNDLE_URL)' && \
	  want=$$(cut -d' ' -f1 $(RDS_CA_BUNDLE).sha256) && got=$$(sha256sum "$$tmp" | cut -d' ' -f1) && \
	  if [ "$$got" != "$$want" ]; then \
	    echo "$(RDS_CA_BUNDLE_URL): SHA-256 $$got, not the pinned $$want ($(RDS_CA_BUNDLE).sha256)"; exit 1; fi && \
	  cp "$$tmp" $(RDS_CA_BUNDLE) && chmod 644 $(RDS_CA_BUNDLE) && echo "$(RDS_CA_BUNDLE): matches the pinned SHA-256"

define need_env
	@test -n "$(ENV)" || { echo "usage: make $@ ENV=<environment>"; exit 2; }
endef

# Read-only checks of the account ENV is about to be applied in (the caller's credentials).
preflight: $(VENV)/.aws-installed
	$(need_env)
	$(TFGEN) preflight $(ENV) $(ARGS)

init: render
	$(need_env)
	$(TFGEN) init --out $(OUT) $(ENV) -- $(ARGS)

# The reviewed flow: plan saves build/ENV/plan/ and prints its review; apply applies that
# plan only (ALLOW='--allow-data-loss ADDRESS --allow-detection-loss ADDRESS --allow-traffic-risk FUNCTION
# --allow-outage FUNCTION' for what it refuses).
plan: init
	$(TFGEN) plan --out $(OUT) $(ENV) -- $(ARGS)

apply: render
	$(need_env)
	$(TFGEN) apply --out $(OUT) $(ENV) $(ALLOW) -- $(ARGS)

destroy: init
	$(TFGEN) destroy --out $(OUT) $(ENV) -- $(ARGS)

clean:
	rm -rf $(OUT) .pytest_cache .mypy_cache .ruff_cache .coverage
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
