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
# The PostgreSQL state store's tests need a server: the machine's cluster is started when it is
# installed but not running (and its `test` database created); under CI=true an unreachable
# server fails those tests, elsewhere they skip. NBAPIPE_TEST_POSTGRES names another server.
PG_TEST_URL ?= postgresql://postgres@127.0.0.1:5432/test
# Test files run side by side, one file per worker (pytest-xdist, --dist loadfile: a file's
# module fixtures are built once). Most of the suite waits on subprocesses, JVMs and servers:
# on the 2-core machine 21.5 min in one process, 14.6-15.8 min in two.
TEST_WORKERS ?= auto
test: $(STAMP)
	@command -v chromium >/dev/null 2>&1 || \
	  (command -v apt-get >/dev/null 2>&1 && apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) || \
	  echo "note: chromium not installed (needs apt-get as root): the dashboard's browser test cannot run"
	@test -n "$$NBAPIPE_TEST_POSTGRES" || pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null || \
	  (command -v pg_ctlcluster >/dev/null 2>&1 && ls /etc/postgresql >/dev/null 2>&1 && \
	   pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql | sort -n | tail -1) main start) || \
	  echo "note: no PostgreSQL server could be started: the postgres-marked tests cannot run"
	@test -n "$$NBAPIPE_TEST_POSTGRES" || psql -q "$(PG_TEST_URL)" -c 'SELECT 1' >/dev/null 2>&1 || \
	  createdb -h 127.0.0.1 -U postgres test 2>/dev/null || true
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow and not realdata"

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_ingest.py

clean:
	rm -rf .nbapipe .pytest_cache
