# make demo: set up .venv and run the main job (quickstart) on the embedded default.
# make test: set up .venv and run the whole test suite (what CI runs).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: demo test test-fast bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,spark,postgres]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/nbapipe quickstart

# The dashboard's browser test needs Debian's chromium: installed here when missing and apt-get
# can (root); otherwise the note below, and that test fails under CI=true, skips elsewhere.
test: $(STAMP)
	@command -v chromium >/dev/null 2>&1 || \
	  (command -v apt-get >/dev/null 2>&1 && apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) || \
	  echo "note: chromium not installed (needs apt-get as root): the dashboard's browser test cannot run"
	$(BIN)/python -m pytest -q

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow and not realdata"

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_ingest.py

clean:
	rm -rf .nbapipe .pytest_cache
