# The one entry point: `make run`, `make test` (CI: .ci/run), `make lint`, `make synth`, `make deploy`,
# `make bench`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PY_STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
# checkov (tests/infra scans the synthesized templates) has pins that conflict with ours: own venv.
CHECKOV_VENV := .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed
# ministack (the contract suite's stricter DynamoDB, tests/contracts) pins another botocore: own venv too.
MINISTACK_VENV := .venv-ministack
MINISTACK_STAMP := $(MINISTACK_VENV)/.installed
PORT ?= 8000
REGIONS ?= eu-west-1
# infra, localrt, tests and scripts import from the repository root; `cloudtill` is an installed package.
export PYTHONPATH := $(CURDIR)
STAGE ?= dev
comma := ,
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export CDK_DEFAULT_ACCOUNT ?= 111111111111
export CDK_DEFAULT_REGION ?= eu-west-1

.PHONY: install browser run test test-unit test-unit-infra test-integration test-infra test-faults test-contracts faults lint format synth deploy admin-token bench clean report report-rollup

$(PY_STAMP): requirements-dev.lock pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check uv==0.13.8
	$(VENV)/bin/uv pip sync --quiet -p $(PY) requirements-dev.lock
	# After the sync (which removes what the lock does not list): the cloudtill package, editable.
	$(VENV)/bin/uv pip install --quiet --no-deps -p $(PY) -e .
	touch $@

$(CHECKOV_STAMP): requirements-checkov.lock | $(PY_STAMP)
	test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(VENV)/bin/uv pip sync --quiet -p $(CHECKOV_VENV)/bin/python requirements-checkov.lock
	touch $@

$(MINISTACK_STAMP): requirements-ministack.lock | $(PY_STAMP)
	test -x $(MINISTACK_VENV)/bin/python || $(PYTHON) -m venv $(MINISTACK_VENV)
	$(VENV)/bin/uv pip sync --quiet -p $(MINISTACK_VENV)/bin/python requirements-ministack.lock
	touch $@

$(NODE_STAMP): package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

install: $(PY_STAMP) $(NODE_STAMP) $(CHECKOV_STAMP) $(MINISTACK_STAMP)

# Only the test suite needs these: headless Chromium for the report page, /docs and the browser tests,
# jq for the README's examples (Debian's packages; CI runs as root on Debian). `make run` needs neither.
browser:
	command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium)
	command -v jq >/dev/null || (apt-get update -qq && apt-get install -y -qq jq)

# The local state (catalog, orders, Stripe sandbox, e-mails, admin token) is kept in .local/ across
# restarts; `make run FRESH=1` starts empty (docs/local.md).
run: install
	PORT=$(PORT) $(PY) -m localrt --state-dir .local --log-format text $(if $(FRESH),--fresh)

# tests/faults runs a fixed-seed sample of the fault matrix (FAULTS_SAMPLE, FAULTS_SEED); `make faults`
# runs every injection point x fault kind (docs/orders.md "Fault injection").
# The suites run side by side (each prints its output when it is done): the integration and fault
# suites spend most of their time waiting on their local backends, so the 2-core machine has room for
# the others. Meanwhile scripts/test_progress.py prints where each suite is, every 30 s (from the status
# files tests/conftest.py keeps in $(PROGRESS_DIR)).
PROGRESS_DIR := artifacts/test-progress
test: install browser
	@rm -rf $(PROGRESS_DIR) && mkdir -p $(PROGRESS_DIR)
	@$(PY) scripts/test_progress.py $(PROGRESS_DIR) --every 30 --suites integration faults unit+infra contracts & \
	progress=$$!; \
	TEST_PROGRESS_DIR=$(CURDIR)/$(PROGRESS_DIR) \
		$(MAKE) --no-print-directory -j4 --output-sync=target test-integration test-faults test-unit-infra test-contracts; \
	status=$$?; kill $$progress 2>/dev/null; wait $$progress 2>/dev/null; exit $$status

test-unit-infra: install
	@echo "== unit+infra suite (tests/unit tests/infra) =="
	$(PY) -m pytest tests/unit tests/infra

# Each port's behavioural contract against its in-memory fake, its DynamoDB adapter on moto and the
# same adapter on ministack (a server from .venv-ministack on a free loopback port).
test-contracts: install
	@echo "== contracts suite (tests/contracts) =="
	$(PY) -m pytest tests/contracts

test-faults: install
	@echo "== faults suite (tests/faults) =="
	$(PY) -m pytest tests/faults

test-unit: install
	$(PY) -m pytest tests/unit

test-integration: install browser
	@echo "== integration suite (tests/integration) =="
	$(PY) -m pytest tests/integration

test-infra: install
	$(PY) -m pytest tests/infra

faults: install
	FAULTS_FULL=1 $(PY) -m pytest tests/faults

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy layers/cloudtill/python/cloudtill functions localrt infra

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# `make synth STAGE=prod REGIONS=eu-west-1,us-east-1` (offline); `make deploy` the same with credentials.
# A prod synth refuses region files still holding placeholder addresses (README, Deploying).
synth: install
	$(PY) scripts/build_layers.py
	npx cdk synth -q -c stage=$(STAGE) -c regions=$(REGIONS)

deploy: install
	$(PY) scripts/build_layers.py
	npx cdk deploy -c stage=$(STAGE) -c regions=$(REGIONS) --all

# A back-office user's Cognito ID token for the /admin routes of a deployed stack (prompts for the
# password and TOTP code; only the token on stdout): ADMIN_TOKEN=$$(make -s admin-token STAGE=prod
# REGION=eu-west-1 USERNAME=ann@example.com)
admin-token: install
	@$(PY) scripts/admin_token.py --stage $(STAGE) --region $(or $(REGION),$(firstword $(subst $(comma), ,$(REGIONS)))) --username $(USERNAME)

# Daily reports against the running local backend: `make report DATE=2026-07-15` or FROM=... TO=...
report:
	$(PY) scripts/report.py $(if $(DATE),--date $(DATE)) $(if $(FROM),--from $(FROM)) $(if $(TO),--to $(TO))

# One report across regions: `make report-rollup DATE=2026-07-15 STACKS="eu=bucket us=bucket@us-east-1"
# RATES=rates.json` (or RATE="USD=0.915"); docs/reporting.md "Roll-up across regions".
report-rollup:
	PYTHONPATH=layers/cloudtill/python $(PY) -m cloudtill.reporting.rollup --date $(DATE) \
		$(foreach s,$(STACKS),--stack $(s)) $(if $(CURRENCY),--currency $(CURRENCY)) \
		$(if $(RATES),--rates $(RATES)) $(foreach r,$(RATE),--rate $(r)) $(if $(OUT),--out $(OUT))

bench: install
	$(PY) bench/run.py

clean:
	rm -rf cdk.out build .pytest_cache .mypy_cache .ruff_cache
