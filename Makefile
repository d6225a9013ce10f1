# Two entry points that set everything up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
DATA_ROOT ?= $(abspath ../shared/data)

.PHONY: demo test bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -U pip
	$(PY) -m pip install -q -e '.[test]'
	touch $@

# The main job: the demo grid on an embedded local Ray (bundled digits: no network, no data folder).
demo: $(VENV)/.installed
	$(PY) -m orchestrator.grid

# pytest exits 5 when it collects nothing: that is a failure here, never a silent green.
test: $(VENV)/.installed
	SGD_DATA_ROOT=$(DATA_ROOT) $(PY) -m pytest; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests" >&2; exit 1; fi; exit $$rc

bench: $(VENV)/.installed
	$(PY) benchmarks/recording_overhead.py --data-root $(DATA_ROOT)

clean:
	rm -rf $(VENV) runs .pytest_cache
