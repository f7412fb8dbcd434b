# The two commands: `make run` (the demo pipeline) and `make test`. Everything else is a helper.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)

.PHONY: system-packages run test test-unit test-integration test-faults lint format schemas bench bench-quick kafka-start kafka-stop kafka-status clean venv

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	@# devtools/ is not part of the package; the checkout's root on the venv's path makes it
	@# importable from anywhere (the editable install maps only the shipped packages).
	@echo "$(CURDIR)" > "$$($(PY) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/claimflow-checkout.pth"
	@rm -f $(VENV)/.installed-*
	@touch $@

venv: $(STAMP)

## Debian packages (Java, Maven, PostgreSQL, Chromium): installed as root, else named.
system-packages:
	@tools/system-packages

## make run: start the broker, the workers and the report service, feed sample data, show progress.
run: system-packages $(STAMP)
	$(PY) -m claimflow demo run

## make test: every test, against the real Kafka broker, SQLite and PostgreSQL.
test: system-packages $(STAMP)
	$(PY) -m pytest

test-unit: $(STAMP)
	$(PY) -m pytest tests/unit

test-integration: system-packages $(STAMP)
	$(PY) -m pytest tests/integration

test-faults: system-packages $(STAMP)
	CLAIMFLOW_FAULT_SCALE=long $(PY) -m pytest -m faults tests/faults

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

## make schemas: regenerate contracts/schemas/*.json and docs/CONTRACTS.md from the models.
schemas: $(STAMP)
	$(PY) -m devtools.export

## make bench: throughput, latency and memory of the workers beside the ceiling (bench/results/latest.json).
bench: $(STAMP)
	$(PY) -m bench --full
bench-quick: $(STAMP)
	$(PY) -m bench --quick

kafka-start: $(STAMP)
	$(PY) -m claimflow kafka start
kafka-stop: $(STAMP)
	$(PY) -m claimflow kafka stop
kafka-status: $(STAMP)
	$(PY) -m claimflow kafka status

clean:
	-$(PY) -m claimflow kafka stop
	rm -rf var/run var/*.db* .pytest_cache .mypy_cache .ruff_cache
