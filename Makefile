# dankjewel: the two set-up commands are `make run` and `make test`.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
export PYTHONUNBUFFERED := 1

.PHONY: help install run test unit stop contract faults bench clean

help:
	@echo "make run    start Kafka (if none is configured) and all services, with a local mail catcher"
	@echo "make test   the whole suite on a real Kafka broker, PostgreSQL and SMTP server"
	@echo "make unit   only the fast unit tests (no servers)"
	@echo "make stop   stop the local Kafka broker started by make run"
	@echo "make faults the full fault suite (10,000 events per scenario)"
	@echo "make bench  the benchmark: figures and ratios measured in one run"
	@echo "make contract   rewrite shared/schemas/*.json and docs/asyncapi.json from the models"

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[test]'
	touch $@

run: install
	deploy/run-local.sh

# pytest exits 5 when it collected no test: that is a failure here, not a pass.
test: install
	$(VENV)/bin/pytest -ra --durations=10; rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "make test: no tests were collected" >&2; exit 1; fi; exit $$rc

unit: install
	$(VENV)/bin/pytest -ra tests/unit -p no:cacheprovider

stop:
	deploy/kafka/kafka.sh stop

faults: install
	$(PY) -m faults

bench: install
	$(PY) -m bench

contract: install
	$(VENV)/bin/dankjewel schemas
	$(VENV)/bin/dankjewel asyncapi --output docs/asyncapi.json

clean:
	rm -rf var .pytest_cache
