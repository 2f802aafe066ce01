# Everything a fresh machine needs: `make demo` runs the main job, `make test` the tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
EXTRAS ?= dev,faces,nudity,provenance,detector,service,ray,ui,report
comma := ,
STAMP := $(VENV)/.installed-$(subst $(comma),-,$(EXTRAS))
DEMO_DB ?= sqlite:///$(CURDIR)/out/demo.db

.PHONY: install demo test test-all fuzz lint bench services clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip 'setuptools<81' wheel
	$(BIN)/pip install -q -e '.[$(EXTRAS)]'
	# The reference dwtDct watermarker, for tests only; --no-deps keeps torch and opencv 5 out.
	$(BIN)/pip install -q --no-deps invisible-watermark==0.2.0
	# Byte-compile now, as a non-editable install does: start-up then reads .pyc files even
	# where PYTHONDONTWRITEBYTECODE is set (it is on our CI machines).
	$(BIN)/python -m compileall -q consentry
	touch $@

install: $(STAMP)

# Generate sample media with our own code, scan it into a local SQLite file, write a report.
# Exit 3 means "some items could not be read": the samples include a text file on purpose.
demo: install
	mkdir -p out
	$(BIN)/consentry samples --force samples
	$(BIN)/consentry --db $(DEMO_DB) scan samples --report out/report.html; \
	  rc=$$?; [ $$rc -eq 0 ] || [ $$rc -eq 1 ] || [ $$rc -eq 3 ]
	@echo "report: out/report.html"

services:
	bash scripts/services.sh

test: install services
	$(BIN)/ruff check consentry tests bench
	$(BIN)/pytest -q

# Slow work too: training smoke runs and the big benchmarks.
test-all: install services
	$(BIN)/pytest -q --run-slow

# The atheris fuzzers (tests/fuzz/) for longer than `make test`'s few seconds each:
# FUZZ_SECONDS for the policy and hash-list fuzzers, twice that for the decode path.
FUZZ_SECONDS ?= 120
fuzz: install
	CONSENTRY_FUZZ_SECONDS=$(FUZZ_SECONDS) $(BIN)/pytest -q -s tests/test_fuzz.py

bench: install
	$(BIN)/python -m bench.run_all

clean:
	rm -rf $(VENV) out samples .pytest_cache
