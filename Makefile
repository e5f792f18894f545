# Every target creates the virtualenv it needs; `make demo` and `make test` work on a fresh machine.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint fmt clean

$(STAMP): pyproject.toml requirements/airflow3.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip uv
	$(BIN)/uv pip install --python $(BIN)/python --native-tls --quiet -e '.[dev]' -r requirements/airflow3.txt \
	  || $(BIN)/python -m pip install --quiet -e '.[dev]' -r requirements/airflow3.txt
	touch $(STAMP)

## demo: embedded Airflow 3, compile + upload + run the example once, wait for success, stop Airflow
demo: $(STAMP)
	KEDRO_DISABLE_TELEMETRY=true AIRFLOW__CORE__LOAD_EXAMPLES=False AIRFLOW_HOME=$(abspath $(VENV))/airflow-home \
	  $(BIN)/python scripts/demo.py

## test: lint, then the whole test suite (fails when no test ran)
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -p no:cacheprovider $(PYTEST_ARGS); rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing"; exit 1; fi; exit $$rc

lint: $(STAMP)
	$(BIN)/ruff check .

fmt: $(STAMP)
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) build dist *.egg-info
