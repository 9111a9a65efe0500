# contactgate — documented entry points. `make demo` and `make test` set everything up.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

# Usage telemetry stays off everywhere (personal data, offline operation).
export MLFLOW_DISABLE_TELEMETRY := true
export BENTOML_DO_NOT_TRACK := True
export DO_NOT_TRACK := 1
export PIP_DISABLE_PIP_VERSION_CHECK := 1
# OpenMP (LightGBM) threads wait passively: spinning ones slow a shared machine 10-20x.
export OMP_WAIT_POLICY ?= PASSIVE

.PHONY: help install demo test lint format bench ui serve clean

help:
	@echo "make demo   - create .venv, install, run the end-to-end main job on SQLite/MLflow defaults"
	@echo "make test   - install test tools into .venv and run the test suite"
	@echo "make lint   - ruff check and format check"
	@echo "make bench  - run the benchmark scripts (prints tables)"
	@echo "make ui     - open the MLflow UI on the local tracking store"
	@echo "make serve  - start the decision service with the demo model"

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

.env: | $(STAMP)
	$(PY) -m serving.store.keys .env

demo: $(STAMP) .env
	$(VENV)/bin/contactgate demo

test: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: $(STAMP)
	for f in benchmarks/bench_*.py; do echo "== $$f"; $(PY) $$f || exit 1; done

ui: $(STAMP)
	$(VENV)/bin/mlflow ui --backend-store-uri sqlite:///models/mlflow.db --host 127.0.0.1 --port 5000

serve: $(STAMP) .env
	$(VENV)/bin/contactgate serve --host 127.0.0.1 --port 3000

clean:
	rm -rf data/generated models/mlflow.db models/artifacts models/bentoml data/contactgate.db*
