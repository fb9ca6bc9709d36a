# Two commands for a fresh machine:  `make demo` (the main job)  and  `make test`.
# Each creates a local virtual environment in .venv on first use.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
OUT ?= demo-output
STAMP := $(VENV)/.mmemotion-installed

.PHONY: demo test install clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip
	# CPU build of PyTorch first (see README: "Why torch is pinned here").
	$(PY) -m pip install "torch==2.13.0"
	$(PY) -m pip install -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/mmemotion demo --out $(OUT) --force

test: $(STAMP)
	$(PY) -m pytest -n 2

clean:
	rm -rf $(VENV) $(OUT) build dist *.egg-info
