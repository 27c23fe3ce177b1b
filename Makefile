# FAQ service: `make help` lists the targets.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The data set: $(DATA) if given, else the shared copy when present, else `faq` downloads it
# from its public home (or reads $$FAQ_DATA).
DATA ?= $(wildcard ../shared/data/cloud_faq_dataset.jsonl)
DATA_ARG = $(if $(DATA),--data $(DATA),)
HOST ?= 127.0.0.1
PORT ?= 8000
PARAPHRASES ?= ../shared/data/paraphrases-dev.jsonl

.DEFAULT_GOAL := help
.PHONY: help install install-browser demo check test test-slow test-proof lint format train evaluate index serve bench clean

help: ## Show this help
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}'

install: $(STAMP) ## Create .venv and install the pinned environment (a no-op when up to date)

$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --no-deps --ignore-requires-python -r requirements.lock
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

install-browser: ## Install Debian's chromium and chromedriver for the browser tests (needs root and apt)
	@if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then \
		echo "chromium and chromedriver are installed"; \
	else \
		apt-get update -qq && apt-get install -y -qq chromium chromium-driver >/dev/null; \
	fi

test: install ## Run the test suite (fast tests; a few minutes)
	$(BIN)/pytest -q

test-slow: install ## Run the slow tests too (full data set training and evaluation)
	$(BIN)/pytest -q -m "slow or not proof"

test-proof: install ## Long property, load and fault tests (uses var/servable and the real data set)
	$(BIN)/pytest -q -s -m proof

check: install ## Lint (ruff), format check (ruff), type check (mypy on app/, cli/, benchmarks/ and training/), docs (mkdocs --strict)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet

lint: check ## Same as check

format: install ## Apply ruff fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

demo: install ## Train (if var/servable is missing), index, and serve on http://$(HOST):$(PORT)
	test -f var/servable/config.json || $(BIN)/faq train $(DATA_ARG)
	$(BIN)/faq index $(DATA_ARG)
	$(BIN)/faq serve --host $(HOST) --port $(PORT)

train: install ## Train a servable into var/servable
	$(BIN)/faq train $(DATA_ARG)

evaluate: install ## Evaluate var/servable against the base encoder
	$(BIN)/faq evaluate $(DATA_ARG) --servable var/servable

index: install ## Index the FAQ answers with var/servable into the store
	$(BIN)/faq index $(DATA_ARG)

serve: install ## Serve on http://$(HOST):$(PORT)
	$(BIN)/faq serve --host $(HOST) --port $(PORT)

bench: install ## The service vs a minimal app (needs var/servable), the store at 10k and 100k entries, the review queue at 10k questions
	$(BIN)/faq bench $(DATA_ARG)
	$(BIN)/faq bench --scale
	$(BIN)/python -m benchmarks.review_scale

clean: ## Remove the virtual environment and everything under var/
	rm -rf $(VENV) var
