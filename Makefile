# Front door to the pipeline. Every target calls invoke or nox, which carry the logic.
# Variables: ENV (uat, stg, prod), VERSION (image tag), ENV_FILE (settings file).

SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
INVOKE := $(BIN)/invoke
NOX := $(BIN)/nox
SANDBOX_ENV := .env.sandbox
ENV ?=
VERSION ?=
# Values reach the recipes as environment variables and are quoted there, so text such as
# VERSION='x;rm' stays one argument and the tasks validate it.
export ENV VERSION
VERSION_FLAG := $(if $(VERSION),--version="$$VERSION")

PHONY_EXTRA := metadata prechecks setup logs rollback releases
.PHONY: help venv demo test lint unit integration build push deploy status $(PHONY_EXTRA) sandbox-up sandbox-down sandbox-status bench clean

help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

$(BIN)/.installed: requirements/dev.txt requirements/app.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -r requirements/dev.txt
	touch $@

venv: $(BIN)/.installed ## Install the Python dependencies into .venv

demo: venv sandbox-up ## Build, push and deploy to uat on the local sandbox
	AGENT_DK_ENV_FILE=$(SANDBOX_ENV) $(INVOKE) build $(VERSION_FLAG) push $(VERSION_FLAG) deploy --env=uat $(VERSION_FLAG)
	@echo "uat answers on http://127.0.0.1:18080; curl -s 127.0.0.1:18080/version returns:"
	@curl -s 127.0.0.1:18080/version; echo

test: venv ## Lint, then run the unit and integration tests (needs the sandbox)
	$(NOX) -s lint tests

lint: venv ## Run ruff, flake8, shellcheck and the workflow checks
	$(NOX) -s lint

unit: venv ## Run the unit tests
	$(NOX) -s unit

integration: venv ## Run the integration tests against the sandbox
	$(NOX) -s integration

build: venv ## Build the image (VERSION=tag)
	$(INVOKE) build $(VERSION_FLAG)

push: venv ## Push the image (VERSION=tag)
	$(INVOKE) push $(VERSION_FLAG)

deploy: venv ## Deploy to an environment (ENV=uat|stg|prod, VERSION=tag, APPROVED_BY=name for prod)
	$(INVOKE) deploy --env="$$ENV" $(VERSION_FLAG) $(if $(APPROVED_BY),--approved-by="$$APPROVED_BY")

metadata: venv ## Print what a run would deploy, as JSON (ENV optional: from the branch)
	$(INVOKE) metadata $(if $(ENV),--env="$$ENV") $(VERSION_FLAG)

prechecks: venv ## Run the pre-deployment checks (ENV=uat|stg|prod)
	$(INVOKE) prechecks --env="$$ENV" $(VERSION_FLAG)

setup: venv ## Prepare the server for an environment (ENV=uat|stg|prod)
	$(INVOKE) setup --env="$$ENV"

logs: venv ## Show the serving release's logs (ENV=uat|stg|prod)
	$(INVOKE) logs --env="$$ENV"

# REASON and TO reach the recipe as environment variables, so quotes in them stay intact.
export REASON TO APPROVED_BY
rollback: venv ## Roll back (ENV=uat|stg|prod REASON="why" [TO=tag] [APPROVED_BY=name for prod])
	@test -n "$$REASON" || { echo 'ERROR: missing REASON: make rollback ENV=uat REASON="why" (one line)' >&2; exit 2; }
	$(INVOKE) rollback --env="$$ENV" --reason="$$REASON" $(if $(TO),--to="$$TO") $(if $(APPROVED_BY),--approved-by="$$APPROVED_BY")

releases: venv ## List the release history of an environment (ENV=uat|stg|prod)
	$(INVOKE) releases --env="$$ENV"

status: venv ## Show what an environment runs (ENV=uat|stg|prod)
	$(INVOKE) status --env="$$ENV"

bench: venv ## Measure deploy downtime, baseline script versus blue-green (needs the sandbox)
	$(BIN)/python -m bench.deploy_downtime

sandbox-up: ## Start the local sandbox server (Docker, registry, SSH); needs root
	bash scripts/sandbox.sh up

sandbox-down: ## Stop the sandbox's services
	bash scripts/sandbox.sh down

sandbox-status: ## Show whether the sandbox's services answer
	bash scripts/sandbox.sh status

clean: ## Remove the virtualenv and caches (the sandbox stays)
	rm -rf $(VENV) .nox .pytest_cache .ruff_cache
