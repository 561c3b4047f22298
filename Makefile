# Two commands on a fresh machine (see README.md):
#   make course   set up .venv and execute every notebook in place at the default budget
#   make test     set up .venv and run the unit tests plus every notebook at the smoke budget
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# A hung cell fails the run: nbval stops a cell after CELL_TIMEOUT seconds,
# and the whole test run is stopped after TEST_TIMEOUT seconds.
CELL_TIMEOUT ?= 300
TEST_TIMEOUT ?= 1500

.PHONY: install course test lab clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

course: install
	$(BIN)/python -m course_lib.runner

test: install
	COURSE_BUDGET=smoke MPLBACKEND=Agg timeout --signal=INT --kill-after=60 $(TEST_TIMEOUT) \
	  $(BIN)/python -m pytest tests notebooks --nbval-lax --nbval-cell-timeout=$(CELL_TIMEOUT) \
	  -p no:cacheprovider

lab: install
	$(BIN)/jupyter lab notebooks

clean:
	rm -rf $(VENV) results .pytest_cache
