# FAQ service: `make help` lists the targets.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DATA ?= ../shared/data/cloud_faq_dataset.jsonl
PARAPHRASES ?= ../shared/data/paraphrases-dev.jsonl

.DEFAULT_GOAL := help
.PHONY: help install test test-slow lint format train evaluate clean

help: ## Show this help
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}'

install: $(STAMP) ## Create .venv and install the pinned environment (a no-op when up to date)

$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --no-deps --ignore-requires-python -r requirements.lock
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

test: install ## Run the test suite (fast tests; a few minutes)
	$(BIN)/pytest -q

test-slow: install ## Run the slow tests too (full data set training and evaluation)
	$(BIN)/pytest -q -m "slow or not slow"

lint: install ## Ruff lint and format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install ## Apply ruff fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

train: install ## Train on $(DATA) into var/servable
	$(BIN)/faq train --data $(DATA)

evaluate: install ## Evaluate var/servable against the base encoder on $(DATA)
	$(BIN)/faq evaluate --data $(DATA) --servable var/servable

clean: ## Remove the virtual environment and everything under var/
	rm -rf $(VENV) var
