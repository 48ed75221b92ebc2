# Two commands are the whole setup: `make report` and `make test`.
# The first use of either creates .venv from the hash-locked pins (below).

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
AXE    := node_modules/.package-lock.json
LAB_VENV  := .venv-lab
LAB_STAMP := $(LAB_VENV)/.installed
QUARTO_CLI := quarto-cli==1.10.19

# The locks: every package of an environment at its exact version, with the
# SHA-256 of each of its files on PyPI (the wheels for Linux, macOS and Windows,
# and the source archive), written by `make lock` from requirements*.txt and
# constraints.txt. Every install below requires them (--require-hashes): a file
# that is not byte for byte the one locked is refused. A copy of the lock is left
# in .venv once it is installed: the report's provenance cites its SHA-256.
LOCK     := requirements.lock
LAB_LOCK := requirements-lab.lock
UV_LOCK  := requirements-uv.lock

# uv builds the environments (.venv in seconds where pip takes about a minute):
# its wheel comes from PyPI, checked against $(UV_LOCK), and is put by .venv's own
# pip into a folder of its own inside .venv, not among the environment's packages.
# Where uv cannot be had, pip installs the same locks, and one line says so.
UV_DIR := $(VENV)/uv
UV     := $(UV_DIR)/bin/uv
UV_LOG := $(VENV)/uv-install.log
# $(call UV_INSTALL,ENV) and $(call PIP_INSTALL,ENV): the two installers, into the
# environment in folder ENV. choose_installer sets the shell's $$install to the
# one there is. pip compiles every module to bytecode as it installs; uv leaves
# it to the first import, which writes it once (a few seconds of the first run)
# unless Python is told never to write bytecode (PYTHONDONTWRITEBYTECODE, set in
# many containers): then every run would compile what it imports again, so uv
# compiles all at install (about 10 s) instead.
UV_INSTALL  = $(UV) pip install --quiet --python $(1)/bin/python$(if $(PYTHONDONTWRITEBYTECODE), --compile-bytecode)
PIP_INSTALL = $(1)/bin/python -m pip install --quiet --disable-pip-version-check
choose_installer = if [ -x $(UV) ]; then install="$(call UV_INSTALL,$(1))"; else \
	echo "uv could not be installed here (see $(UV_LOG)): installing $(1) with pip instead, which takes about a minute."; \
	install="$(call PIP_INSTALL,$(1))"; fi
# `make lock` writes each lock for any platform (--universal) and Python from 3.11.5
# (the oldest the pins support: soupsieve needs it).
LOCK_WITH = $(UV) pip compile --quiet --universal --python-version 3.11.5 --generate-hashes --custom-compile-command "make lock"

# ruff (lint and format check) runs before the tests, so that CI (`make test`)
# keeps the tree clean; `make test STYLE_CHECK=0` skips it while you iterate.
# (Not named LINT: make has a built-in variable of that name.)
STYLE_CHECK ?= 1
RUFF_PATHS := src tests benchmarks

.PHONY: report quarto-report test soak lint lab lock baselines bench synth clean-outputs

report: $(STAMP)
	$(PY) -m mentoring_eval run

# What `quarto render` and `quarto preview` at the root run first (_quarto.yml's
# pre-render): the pipeline, rendered by Quarto.
quarto-report: $(STAMP)
	$(PY) -m mentoring_eval run --renderer quarto

# The tests on two workers (pytest-xdist), each test file on one worker as a
# whole, the ten slowest listed at the end (to see where the minutes go); then nbval over the notebooks, in order, in one process (they share
# data/processed; tests/conftest.py says more). Both always run; either failing fails.
test: $(STAMP) $(AXE)
ifeq ($(STYLE_CHECK),1)
	@$(MAKE) --no-print-directory lint
endif
	@status=0; \
	$(PY) -m pytest -n 2 --dist loadfile --durations=10 tests || status=$$?; \
	$(PY) -m pytest notebooks || status=$$?; \
	exit $$status

# The long run of the generated trials (tests/test_any_trial.py): hundreds of
# trials through every notebook and dozens through the real commands, on two
# workers, with the time each took. `make test` runs the same tests on a few.
soak: $(STAMP)
	TRIALS=soak $(PY) -m pytest -n 2 --durations=5 -p no:cacheprovider tests/test_any_trial.py

lint: $(STAMP)
	$(VENV)/bin/ruff check $(RUFF_PATHS)
	$(VENV)/bin/ruff format --check $(RUFF_PATHS)

# JupyterLab lives in its own environment, created on the first `make lab`:
# the server's dependencies (jupyter-events brings jsonschema's format
# checkers, whose rfc3987-syntax grammar costs 2.7 s on every `import
# nbformat`) stay out of the environment that runs the pipeline and the tests.
# Its notebooks' kernel, "python3", is the project's .venv (registered on each
# `make lab`, so a rebuilt .venv is picked up). JupyterLab refuses to run as
# root unless told (containers often are root).
lab: $(STAMP) $(LAB_STAMP)
	@# (ipykernel warns that this prefix is not on the .venv's own kernel path: it is the lab's)
	@$(PY) -m ipykernel install --prefix $(LAB_VENV) --name python3 --display-name "Python 3 (mentoring-eval)" \
		>$(LAB_VENV)/kernel-install.log 2>&1 || { cat $(LAB_VENV)/kernel-install.log; exit 1; }
	$(LAB_VENV)/bin/jupyter lab $(if $(filter 0,$(shell id -u)),--allow-root) notebooks/

# Re-execute the notebooks in place after an intended change: `git diff`
# then shows exactly which outputs moved.
baselines: $(STAMP)
	$(PY) -m mentoring_eval baselines

# After a deliberate upgrade (a pin changed in requirements*.txt or
# constraints.txt): write the locks again, each file's SHA-256 as PyPI has it.
# The next `make report` or `make test` rebuilds .venv from them.
lock: $(STAMP)
	@test -x $(UV) || { echo "make lock needs uv, which could not be installed here (see $(UV_LOG))."; exit 1; }
	$(LOCK_WITH) requirements.txt -c constraints.txt -o $(LOCK)
	$(LOCK_WITH) requirements-lab.txt -c constraints.txt -o $(LAB_LOCK)
	$(LOCK_WITH) requirements-uv.txt -c constraints.txt -o $(UV_LOCK)

bench: $(STAMP)
	$(PY) benchmarks/bench_everyday.py
	$(PY) benchmarks/bench_clean.py
	$(PY) benchmarks/bench_pipeline.py
	$(PY) benchmarks/bench_sites.py
	$(PY) benchmarks/bench_bundle.py

synth: $(STAMP)
	$(PY) -m mentoring_eval.synth

$(STAMP): $(LOCK) $(UV_LOCK) pyproject.toml
	@echo "Creating the environment in $(VENV) (first use only)..."
	$(PYTHON) -m venv --clear $(VENV)
	@$(call PIP_INSTALL,$(VENV)) --require-hashes --target $(UV_DIR) -r $(UV_LOCK) >$(UV_LOG) 2>&1 \
		&& $(UV) --version >>$(UV_LOG) 2>&1 || rm -rf $(UV_DIR)
	@# The project itself, editable and without dependencies, is the one install
	@# not checked against the lock: it is this checkout.
	@$(call choose_installer,$(VENV)); set -ex; \
		$$install --require-hashes -r $(LOCK); \
		$$install --no-deps -e .
	@cp $(LOCK) $(VENV)/$(LOCK)
	@# Quarto's PyPI package downloads its binary at install time; where the
	@# machine cannot reach the download, carry on and render with nbconvert.
	@# A quarto already on PATH is what the runner uses: no download then.
	@if command -v quarto >/dev/null 2>&1; then \
		echo "Quarto found on PATH ($$(command -v quarto)): the report will be rendered to HTML and PDF by Quarto."; \
	elif $(PY) -m pip install --quiet --disable-pip-version-check $(QUARTO_CLI) >$(VENV)/quarto-install.log 2>&1; then \
		echo "Quarto installed: the report will be rendered to HTML and PDF by Quarto."; \
	elif command -v quarto >/dev/null; then \
		echo "quarto-cli could not be installed here, but $$(command -v quarto) is on PATH: the report will be rendered to HTML and PDF by it."; \
	else \
		echo "quarto-cli could not be installed here (see $(VENV)/quarto-install.log): the report will be rendered to HTML by nbconvert."; \
	fi
	@touch $(STAMP)

# axe-core, the accessibility rules the browser tests run (tests/test_accessibility.py),
# from the npm registry at the version and hash in package-lock.json. Where npm
# is missing or cannot reach the registry, say so and go on: those tests then
# skip, saying why.
$(AXE): package.json package-lock.json
	@if ! command -v npm >/dev/null 2>&1; then \
		echo "npm not found: the accessibility tests in a browser will be skipped (install Node.js and npm to run them)."; \
	elif ! npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >.npm-install.log 2>&1; then \
		echo "npm ci failed (see .npm-install.log): the accessibility tests in a browser will be skipped."; \
	fi

# (after .venv: its uv installs this one too)
$(LAB_STAMP): $(LAB_LOCK) | $(STAMP)
	@echo "Creating JupyterLab's environment in $(LAB_VENV) (first make lab only)..."
	$(PYTHON) -m venv --clear $(LAB_VENV)
	@echo '*' > $(LAB_VENV)/.gitignore  # git ignores the whole environment (as venv does from Python 3.13)
	@$(call choose_installer,$(LAB_VENV)); set -ex; $$install --require-hashes -r $(LAB_LOCK)
	@touch $(LAB_STAMP)
