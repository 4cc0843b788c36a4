# The README's two commands: `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-heavy lint bench clean browser

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/ennakoiva demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/mypy

# the browser tests drive Debian's chromium (Playwright's own browser download does not work here)
browser:
	@[ -x /usr/bin/chromium ] || ! command -v apt-get >/dev/null || \
		(apt-get update -qq && apt-get install -y -qq chromium)

test: lint browser
	$(BIN)/pytest -n 2 --dist loadfile

# the property tests that need many whole cities (e.g. interval coverage over 20 seeds)
test-heavy: $(STAMP)
	$(BIN)/pytest -n 2 --dist loadfile -m heavy

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_synth.py
	$(BIN)/python benchmarks/bench_store.py
	$(BIN)/python benchmarks/bench_web.py
	$(BIN)/python benchmarks/bench_drilldown.py
	$(BIN)/python benchmarks/bench_criteria.py --per-criterion-sample 30
	$(BIN)/python benchmarks/bench_analyze.py timing

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info .pytest_cache .ruff_cache .mypy_cache
