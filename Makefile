# Two commands on a fresh machine (see README.md):
#   make course   set up .venv and execute every notebook in place at the default budget
#   make test     set up .venv and run the unit tests plus every notebook at the smoke budget
# More: make lab (JupyterLab), make student (notebooks without solutions), make workshop (train every model once, before a workshop).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# A hung cell fails the run: nbval stops a cell after CELL_TIMEOUT seconds, and the whole test
# run is stopped after TEST_TIMEOUT seconds where GNU timeout exists (macOS: `brew install
# coreutils` gives gtimeout; without either the run simply has no overall limit).
CELL_TIMEOUT ?= 300
TEST_TIMEOUT ?= 1500
TIMEOUT := $(shell command -v timeout || command -v gtimeout)
LIMIT   := $(if $(TIMEOUT),$(TIMEOUT) --signal=INT --kill-after=60 $(TEST_TIMEOUT),)

.PHONY: install course test lab student workshop clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || \
	  { echo "could not create $(VENV): on Debian/Ubuntu install python3-venv first"; exit 1; }
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

course: install
	$(BIN)/python -m course_lib.runner

test: install
	COURSE_BUDGET=smoke MPLBACKEND=Agg $(LIMIT) \
	  $(BIN)/python -m pytest tests notebooks --nbval-lax --nbval-cell-timeout=$(CELL_TIMEOUT) \
	  -p no:cacheprovider

lab: install
	$(BIN)/python -m pip install --quiet -e '.[lab]'
	$(BIN)/jupyter lab notebooks

student: install
	$(BIN)/python -m course_lib.student --out student

# Before a workshop: train every lesson's models once, so that re-running a lesson loads them.
workshop: install
	$(BIN)/python -m course_lib.runner
	@echo 'checkpoints are in results/checkpoints/: re-running a lesson now loads its models'

clean:
	rm -rf $(VENV) results student .pytest_cache
