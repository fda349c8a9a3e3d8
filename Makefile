# Two commands do all set-up on a fresh Debian machine: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
export HF_HUB_OFFLINE := 1
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: demo test test-slow lint typecheck bench system system-test clean

# System tools: tesseract for OCR (and its German data for language tests), Chromium for the
# browser tests of the HTML report. Installed with apt-get only when missing.
system:
	@if ! command -v tesseract >/dev/null; then \
	  echo "tesseract not found: installing tesseract-ocr with apt-get"; \
	  $(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tesseract-ocr >/dev/null; \
	fi

system-test: system
	@if [ ! -e /usr/share/tesseract-ocr/5/tessdata/deu.traineddata ] || ! command -v chromium >/dev/null; then \
	  echo "installing tesseract-ocr-deu and chromium with apt-get (used by the tests)"; \
	  $(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tesseract-ocr-deu chromium >/dev/null; \
	fi

$(VENV)/.demo-installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[base]"
	touch $@

$(VENV)/.test-installed: pyproject.toml $(VENV)/.demo-installed
	$(PY) -m pip install -q -e ".[base,dev,notebook,langchain,llamaindex,ray,llm,server,testmodel]"
	touch $@

demo: system $(VENV)/.demo-installed
	$(VENV)/bin/uncertain transcribe samples/ -f text

lint: $(VENV)/.test-installed
	$(VENV)/bin/ruff check uncertain tests bench samples/make_samples.py
	$(VENV)/bin/ruff format --check uncertain tests bench samples/make_samples.py

typecheck: $(VENV)/.test-installed
	$(VENV)/bin/mypy

# The slow tests (long fuzzing) run in CI, before anything lands, or with UNCERTAIN_SLOW=1.
test: system-test $(VENV)/.test-installed lint typecheck
	$(VENV)/bin/pytest $(if $(or $(UNCERTAIN_SLOW),$(filter true 1,$(CI))),-m "slow or not slow")

test-slow: system-test $(VENV)/.test-installed
	$(VENV)/bin/pytest -m slow

bench: $(VENV)/.test-installed
	for b in bench/*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
