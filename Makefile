# Every target sets itself up: a fresh clone needs nothing but this machine's registries.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

VENV ?= .venv
PY := $(VENV)/bin/python
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export TF_CLI_CONFIG_FILE := $(CURDIR)/terraformrc

.PHONY: help venv demo serve test lint pytest bench bench-peers soak

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

venv: $(VENV)/.installed ## Create the virtual environment with the pinned requirements

$(VENV)/.installed: docker/requirements.in requirements-dev.txt requirements-cli.txt pyproject.toml scripts/venv.sh
	scripts/venv.sh $(VENV)

demo: venv ## Run the whole flow on the local stack and print predictions
	$(PY) -m local_stack.demo

serve: venv ## Run the local stack in the foreground (S3 emulator + inference API)
	$(PY) -m local_stack.serve

lint: venv ## ruff and mypy
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy

pytest: venv ## Python tests (unit, moto, end to end), one worker per core (at most 4), a module per worker
	$(PY) -m pytest --numprocesses auto --maxprocesses 4 --dist loadfile --no-loadscope-reorder

bench: venv ## Benchmarks (a few minutes): ratios to baselines run side by side; writes bench/results.json
	$(PY) -m bench

soak: venv ## The local stack under churn (about a minute): 50 models, a small cache, RSS per round, no 5xx
	$(PY) -m bench.soak

bench-peers: venv ## The local stack against MLServer, KServe, BentoML and MLflow (each its own cache venv); writes bench/peers.json
	$(PY) -m bench.peers

test: ## Everything CI runs: the checks and the image proof two at a time, then pytest, whose summary closes the run
	$(MAKE) --no-print-directory --output-sync=target -j2 lint tf-test checkov hadolint image-test
	$(MAKE) --no-print-directory pytest

# Container image: lint the Dockerfiles; build the image without a Docker engine and run both handlers inside it.
.PHONY: hadolint image-test

hadolint: venv ## Lint the Dockerfiles
	$(VENV)/bin/hadolint docker/Dockerfile scripts/image/base.Dockerfile

image-test: venv ## Build the image with buildah on a local Lambda-like base and run both handlers in it
	PYTHON=$(PY) scripts/image-test.sh

# ---------------------------------------------------------------- Terraform
.PHONY: tf-test checkov lock

lock: ## Hash-lock docker/requirements.txt from the pins in docker/requirements.in (needs the package index)
	scripts/lock.sh


tf-test: ## Terraform: init from the mirror, fmt, validate each root, terraform test with a mocked provider
	scripts/terraform-check.sh

checkov: ## checkov over the Terraform, offline (own venv under .cache/)
	scripts/checkov.sh
