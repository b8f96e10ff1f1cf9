# Juniper & Oak assistant. `make run` and `make test` set up whatever is missing.
SHELL := /bin/bash
.DEFAULT_GOAL := help

APP_PY   := .venv/bin/python
RASA_PY  := .venv-rasa/bin/python
SPACY    := build/spacy/en_shop/config.cfg
MODEL    := models/assistant.tar.gz

.PHONY: help setup run test test-unit test-stories validate train bench soak nlu-report migrate seed clean browser

help:
	@echo "make run    set up (first time), train if data changed, start everything, open the demo"
	@echo "make test   set up what is missing, then run the whole test suite"
	@echo "make bench  latency/throughput benchmark of Rasa alone vs. the whole stack"
	@echo "make soak   5-minute soak with injected faults (SOAK_SECONDS=60 for a short one)"
	@echo "make nlu-report  NLU accuracy: cross-validation (FOLDS=3) and held-out sets, var/reports/nlu/index.html"

.venv/.installed: requirements/app.txt
	@test -x .venv/bin/python || python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
	  { echo "Python 3.11 or newer is needed as python3 for the gateway and actions." >&2; exit 1; }
	test -x .venv/bin/python || python3 -m venv .venv
	.venv/bin/pip install -q --upgrade pip
	.venv/bin/pip install -q -r requirements/app.txt
	touch $@

.venv-rasa/.installed: requirements/rasa.txt
	test -x .venv-rasa/bin/python || "$$(scripts/find-python310.sh)" -m venv .venv-rasa
	.venv-rasa/bin/pip install -q --upgrade pip wheel "setuptools<70"
	.venv-rasa/bin/pip install -q -r requirements/rasa.txt
	touch $@

$(SPACY): rasa_ext/spacy_pipeline.py .venv-rasa/.installed
	$(RASA_PY) -m rasa_ext.spacy_pipeline build/spacy/en_shop

setup: .venv/.installed .venv-rasa/.installed $(SPACY)

migrate: .venv/.installed
	$(APP_PY) -m crm migrate

seed: migrate
	$(APP_PY) -m crm seed-demo

# Rasa's fingerprint skips training when domain, data and config are unchanged.
train: setup
	scripts/train.sh

validate: setup
	.venv-rasa/bin/rasa data validate --domain domain.yml --data data --config config.yml --fail-on-warnings

run: setup seed train
	DEMO_MODE=$${DEMO_MODE:-true} $(APP_PY) -m bot.supervisor

browser:
	@scripts/ensure-chromium.sh

test: setup train browser
	$(APP_PY) -m pytest tests

bench: setup seed train
	$(APP_PY) scripts/bench.py

# Every customer message must end answered or apologised while processes are killed.
soak: setup train
	$(APP_PY) scripts/soak.py
# Cross-validation trains one model per fold: FOLDS=5 for a finer estimate, slower.
FOLDS ?= 3
nlu-report: setup train
	$(RASA_PY) -m scripts.nlu_report --folds $(FOLDS)

clean:
	rm -rf build models results var/*.db*
