# Every target creates the virtualenv it needs; `make demo` and `make test` work on a fresh machine.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
VENV_AF2 ?= .venv-af2
STAMP_AF2 := $(VENV_AF2)/.installed
VENV_MLFLOW ?= .venv-mlflow
STAMP_MLFLOW := $(VENV_MLFLOW)/.installed
STAMP_TOOLS := .tools/.installed
# every package of each environment pinned as it last passed the suite (make lock; docs/contributing.md)
LOCK := requirements/lock

.PHONY: demo test test-unit bench bench-quick bench-container bench-k8s bench-own-project lint fmt docs lock clean

# action-no-deps.txt: providers whose operators import without their dependencies, as in the action
# image (the Spark provider's pyspark-client would make mlflow look for a Spark installation).
$(STAMP): pyproject.toml requirements/airflow3.txt requirements/action-no-deps.txt $(LOCK)/dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip uv
	$(BIN)/uv pip install --python $(BIN)/python --native-tls --quiet -c $(LOCK)/dev.txt -e '.[dev]' \
	  -r requirements/airflow3.txt \
	  || $(BIN)/python -m pip install --quiet -c $(LOCK)/dev.txt -e '.[dev]' -r requirements/airflow3.txt
	$(BIN)/uv pip install --python $(BIN)/python --native-tls --quiet -c $(LOCK)/dev.txt --no-deps \
	  -r requirements/action-no-deps.txt
	touch $(STAMP)

# Airflow 2 side of the compatibility tests: Airflow 2.11 + the same providers, nothing else.
$(STAMP_AF2): requirements/airflow2.txt requirements/action-no-deps.txt $(LOCK)/airflow2.txt $(STAMP)
	$(PYTHON) -m venv $(VENV_AF2)
	$(BIN)/uv pip install --python $(VENV_AF2)/bin/python --native-tls --quiet -c $(LOCK)/airflow2.txt \
	  -r requirements/airflow2.txt \
	  || $(VENV_AF2)/bin/python -m pip install --quiet -c $(LOCK)/airflow2.txt -r requirements/airflow2.txt
	$(BIN)/uv pip install --python $(VENV_AF2)/bin/python --native-tls --quiet -c $(LOCK)/airflow2.txt --no-deps \
	  -r requirements/action-no-deps.txt
	touch $(STAMP_AF2)

# MLflow tracking server for the MLflow tests: the full server, kept out of Airflow's environment.
$(STAMP_MLFLOW): requirements/mlflow-server.txt $(LOCK)/mlflow-server.txt $(STAMP)
	$(PYTHON) -m venv $(VENV_MLFLOW)
	$(BIN)/uv pip install --python $(VENV_MLFLOW)/bin/python --native-tls --quiet -c $(LOCK)/mlflow-server.txt \
	  -r requirements/mlflow-server.txt \
	  || $(VENV_MLFLOW)/bin/python -m pip install --quiet -c $(LOCK)/mlflow-server.txt -r requirements/mlflow-server.txt
	touch $(STAMP_MLFLOW)

# Container tests: Docker engine, registry, debootstrap, rsync (apt, as root) and gitlab-ci-local (npm).
$(STAMP_TOOLS): scripts/install-container-tools.sh
	bash scripts/install-container-tools.sh
	mkdir -p .tools && touch $(STAMP_TOOLS)

## demo: embedded Airflow 3, compile + upload + run the example once, wait for success, stop Airflow
demo: $(STAMP)
	KEDRO_DISABLE_TELEMETRY=true AIRFLOW__CORE__LOAD_EXAMPLES=False AIRFLOW_HOME=$(abspath $(VENV))/airflow-home \
	  $(BIN)/python scripts/demo.py

## test: lint, then the whole test suite (fails when no test ran)
test: $(STAMP) $(STAMP_AF2) $(STAMP_MLFLOW) $(STAMP_TOOLS)
	$(MAKE) lint
	KAF_AIRFLOW2_PYTHON=$(abspath $(VENV_AF2))/bin/python KAF_MLFLOW_PYTHON=$(abspath $(VENV_MLFLOW))/bin/python \
	  $(BIN)/python -m pytest -p no:cacheprovider $(PYTEST_ARGS); rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing"; exit 1; fi; exit $$rc

## bench: every benchmark (100/1000/5000 nodes, run-once on a real Airflow) against kedro-airflow and a floor
bench: $(STAMP)
	$(BIN)/uv pip install --python $(BIN)/python --native-tls --quiet -e '.[bench]'
	KEDRO_DISABLE_TELEMETRY=true $(BIN)/python benchmarks/run.py $(BENCH_ARGS)
	@[ -n "$(BENCH_ARGS)" ] || $(MAKE) bench-container || echo "container figures skipped: no Docker engine here"

bench-quick:
	$(MAKE) bench BENCH_ARGS=--quick

## bench-container: action image size and layers, project image build + push, the action's cold start
bench-container: $(STAMP) $(STAMP_TOOLS)
	KEDRO_DISABLE_TELEMETRY=true $(BIN)/python benchmarks/container.py $(BENCH_ARGS)

## bench-k8s: the example on the single-node Kubernetes (scripts/k8s): one pod per node, grouped, deferrable,
## against `kedro run` in one container; per-pod overhead and triggerer slots
bench-k8s: $(STAMP) $(STAMP_TOOLS)
	KEDRO_DISABLE_TELEMETRY=true $(BIN)/python benchmarks/k8s.py $(BENCH_ARGS)

## bench-own-project: README's "Your own project" from a new virtualenv (warm cache) to a successful run on `up`
bench-own-project: $(STAMP)
	$(BIN)/python benchmarks/own_project.py

## lint: ruff, the layer contracts (import-linter), mypy, and the repository's own CI files
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/mypy
	$(BIN)/python scripts/mypy_strict_ratchet.py
	$(BIN)/actionlint -shellcheck $(BIN)/shellcheck .github/workflows/*.yml
	$(BIN)/zizmor --offline --no-progress .github/workflows
	$(BIN)/hadolint --failure-threshold info Dockerfile

## test-unit: the unit tier (no server, no Docker, no Kedro project; under a minute)
test-unit: $(STAMP)
	$(BIN)/python -m pytest -p no:cacheprovider -q -m "unit and not slow"

fmt: $(STAMP)
	$(BIN)/ruff check --fix .

## docs: regenerate the key references (docs/configuration.md, README's deployment settings) from the models
docs: $(STAMP)
	$(BIN)/python -m kedro_af_ci.policy.reference --write README.md docs/configuration.md

## lock: re-resolve the three test environments from their requirements (newest releases) and pin them;
## run `make test` after it, and commit the lock files only when it is green
lock:
	rm -rf $(VENV) $(VENV_AF2) $(VENV_MLFLOW) build/unlocked
	mkdir -p build/unlocked && touch build/unlocked/dev.txt build/unlocked/airflow2.txt build/unlocked/mlflow-server.txt
	$(MAKE) LOCK=build/unlocked $(STAMP) $(STAMP_AF2) $(STAMP_MLFLOW)
	scripts/freeze-lock.sh $(BIN)/uv $(VENV):dev $(VENV_AF2):airflow2 $(VENV_MLFLOW):mlflow-server

clean:
	rm -rf $(VENV) $(VENV_AF2) $(VENV_MLFLOW) .tools build dist *.egg-info
