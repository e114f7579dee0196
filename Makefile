# Everyday commands. `make` alone lists them.
.DEFAULT_GOAL := help

IMAGE ?= django-jobs:local
PG_IMAGE ?= postgres:17
PYTHON ?= python3
VENV ?= .venv
NAME ?=
ARGS ?=
PYTEST_ARGS ?=
# What `make test-fast` runs: the development loop. `make test` runs these too, and the
# security, reliability, upgrade, monitoring and seed suites, the image, the lanes and the rest.
FAST_TESTS ?= tests/framework tests/ctl tests/console tests/example tests/gates

export PG_IMAGE

.PHONY: help build up down web test test-fast lint docs job bench manifests reliability dist

help: ## Show this help.
	@awk 'BEGIN {FS = ":.*## "} /^[a-z][a-z_-]*:.*## / {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(VENV)/.synced: pyproject.toml uv.lock
	test -x $(VENV)/bin/uv || { $(PYTHON) -m venv $(VENV) && $(VENV)/bin/pip install --quiet uv; }
	VIRTUAL_ENV=$(abspath $(VENV)) $(VENV)/bin/uv sync --locked --active --compile-bytecode --quiet
	touch $@

build: ## Build the job image (IMAGE=django-jobs:local).
	docker build -t $(IMAGE) .

up: ## Start PostgreSQL and apply migrations (docker compose).
	docker compose up --build --detach --wait db
	docker compose run --rm migrate

web: ## Serve the console on http://127.0.0.1:8000/admin/ (docker compose, web service).
	docker compose up --build --detach --wait web
	@echo "console: http://127.0.0.1:$${WEB_PORT:-8000}/admin/ (first user: docker compose run --rm web django-admin createsuperuser)"

down: ## Stop the compose stack and delete its database volume.
	docker compose down --volumes --remove-orphans

test: $(VENV)/.synced ## Run the whole test suite: PostgreSQL and the image through Docker.
	$(VENV)/bin/pytest --durations=25 $(PYTEST_ARGS)

test-fast: $(VENV)/.synced ## Run the framework's and the example's in-process tests (no image, no slow ones); print the time.
	@start=$$(date +%s); status=0; $(VENV)/bin/pytest -m "not image and not slow" $(FAST_TESTS) $(PYTEST_ARGS) || status=$$?; \
	echo "test-fast: $$(( $$(date +%s) - start )) s"; exit $$status

lint: $(VENV)/.synced docs ## Lint Python (ruff), the entrypoint (shellcheck) and the docs (strict build).
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/shellcheck entrypoint.sh .ci/run

docs: $(VENV)/.synced ## Build the documentation site into site/, warnings as errors.
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --site-dir site

job: ## Run a job in the compose stack: make job NAME=cleanup_tokens ARGS=--dry-run
	@test -n "$(NAME)" || { echo 'usage: make job NAME=<job> [ARGS="..."]' >&2; exit 64; }
	docker compose build --quiet job
	docker compose run --rm job $(NAME) $(ARGS)

bench: $(VENV)/.synced ## Benchmark every variant in one run (BENCH_SCALE=0.1 for a quick check).
	$(VENV)/bin/python -m bench

manifests: $(VENV)/.synced ## Regenerate deploy/kubernetes/cronjobs.yaml and worker.yaml from the jobs.
	DJANGO_SETTINGS_MODULE=app.settings $(VENV)/bin/jobctl render kubernetes --image django-jobs:latest > deploy/kubernetes/cronjobs.yaml
	DJANGO_SETTINGS_MODULE=app.settings $(VENV)/bin/jobctl render kubernetes --image django-jobs:latest --worker deployment > deploy/kubernetes/worker.yaml

dist: $(VENV)/.synced ## Build the framework's sdist and wheel into dist/ and check them.
	rm -rf dist
	$(VENV)/bin/uv build --out-dir dist
	$(VENV)/bin/twine check --strict dist/*.whl dist/*.tar.gz

reliability: $(VENV)/.synced ## Run every fault and bad-input case and print the reliability table.
	RELIABILITY=full $(VENV)/bin/pytest tests/reliability tests/gates tests/security tests/image/test_contract.py tests/topologies tests/adoption "tests/lanes/test_django_versions.py::test_framework_tests_pass_on[6.0]" $(PYTEST_ARGS)
