# Two entry points (see README): `make smoke` and `make test`. Both set up what they need.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
NODE_DIR := tests/interop/node

.PHONY: smoke test lint typecheck bench clean

$(BIN)/gwsload: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

$(NODE_DIR)/node_modules/.installed: $(NODE_DIR)/package.json
	cd $(NODE_DIR) && npm install --no-audit --no-fund --loglevel=error
	touch $@

## the main job: a one-minute smoke run against the embedded simulator, then its report
smoke: $(BIN)/gwsload
	$(BIN)/gwsload run scenarios/smoke.toml --out results/smoke-latest --force
	$(BIN)/gwsload report results/smoke-latest

# The suite runs with tests/path_trap first on PATH: its `gwsload` fails, so a test
# that starts `gwsload` from PATH instead of `sys.executable -m gwsload` fails too.
TEST_ENV := env PATH="$(CURDIR)/tests/path_trap:$$PATH" GWSLOAD_PATH_TRAP=1

## the tests: lint, types, then pytest processes side by side (tests/parallel.py)
test: $(BIN)/gwsload $(NODE_DIR)/node_modules/.installed lint typecheck
	@command -v chromium >/dev/null 2>&1 || echo "make test: chromium is not installed, \
	the report rendering tests (tests/analysis/test_browser.py) will be skipped"
	@command -v haproxy >/dev/null 2>&1 || test -x /usr/sbin/haproxy || echo "make test: haproxy is not installed, \
	the cluster tests (tests/integration/test_cluster.py) will be skipped"
	$(TEST_ENV) $(BIN)/python -m tests.parallel -- --durations=10

lint: $(BIN)/gwsload
	$(BIN)/ruff check src analysis locustfiles tests bench examples
	$(BIN)/ruff format --check src analysis locustfiles tests bench examples

typecheck: $(BIN)/gwsload
	$(BIN)/mypy

bench: $(BIN)/gwsload
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) $(NODE_DIR)/node_modules
