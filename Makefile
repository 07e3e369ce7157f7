# Gatekey's commands. Every target sets up .venv on first use, so a fresh clone needs only `make`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
LAMBDA_BUILD := build/lambda/.built
PORT ?= 8080
ADMIN_KEY_FILE ?= .gatekey/admin-key
PARTNER_KEY_FILE ?= .gatekey/partner-key
ADMIN_PASSWORD_FILE ?= .gatekey/admin-password
CHROMIUM ?= /usr/bin/chromium

.PHONY: serve test lint build bench chromium clean

$(INSTALLED): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[local,infra,dev]'
	@touch $@

## serve: run Gatekey locally on its embedded store (http://127.0.0.1:$(PORT))
serve: $(INSTALLED)
	$(BIN)/gatekey serve --port $(PORT) --admin-key-file $(ADMIN_KEY_FILE) --partner-key-file $(PARTNER_KEY_FILE) \
		--admin-password-file $(ADMIN_PASSWORD_FILE)

## test: lint, type-check, then every test (unit, integration, e2e, infra, browser)
test: lint build chromium
	$(BIN)/pytest -n 2 --dist loadfile

## chromium: Debian's Chromium, which the browser tests (tests/browser) drive; installed with apt when missing
chromium:
	@if [ -x $(CHROMIUM) ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "Installing Debian's chromium for the browser tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else \
		echo "make: the browser tests need Chromium at $(CHROMIUM) and cannot install it (not root, or no apt-get):" \
			"run 'apt-get install -y chromium' as root" >&2; \
	fi

## lint: ruff and mypy
lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

## build: bundle the Lambda code into build/lambda without Docker (the CDK asset, with its bytecode), and the
##        same bundle for this machine's architecture if it is not Lambda's (build/lambda-<arch>, for `make bench`)
build: $(LAMBDA_BUILD)

$(LAMBDA_BUILD): $(INSTALLED) pyproject.toml $(shell find functions/gatekey -type f -not -name "*.pyc" 2>/dev/null) infra/build_lambda.py
	$(BIN)/python infra/build_lambda.py
	@touch $@

## bench: warm authorizer (Bearer, HMAC) vs a bare GetItem, what a wrong secret costs, argon2 verify, cold import,
##        log ingest, the functions' cold start as deployed (with and without bytecode), cost per memory size
bench: $(INSTALLED) build
	$(BIN)/python -m tests.bench.authorizer
	$(BIN)/python -m tests.bench.log_ingest
	$(BIN)/python -m tests.bench.cold_start
	$(BIN)/python -m tests.bench.memory

clean:
	rm -rf $(VENV) build cdk.out .pytest_cache .mypy_cache .ruff_cache
