# `make demo` and `make test` work on a fresh clone: each creates .venv and installs first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: demo test test-slow lit pytest clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[test,solver,datasets,compress,export,viz]'
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m tracr_ir.demo

pytest: $(STAMP)
	$(PY) -m pytest -q -n 2 -W error::DeprecationWarning

lit: $(STAMP)
	$(VENV)/bin/lit -q tests/filecheck

test: lit pytest

# Heavy hypothesis profiles (thousands of generated programs).
test-slow: $(STAMP)
	HYPOTHESIS_PROFILE=slow $(PY) -m pytest -q -n 2 -W error::DeprecationWarning -m "slow or not slow"

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
