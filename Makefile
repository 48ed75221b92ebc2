# Two commands are the whole setup: `make report` and `make test`.
# The first use of either creates .venv from the exact pins.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
LAB_VENV  := .venv-lab
LAB_STAMP := $(LAB_VENV)/.installed
QUARTO_CLI := quarto-cli==1.10.19

# ruff (lint and format check) runs before the tests, so that CI (`make test`)
# keeps the tree clean; `make test STYLE_CHECK=0` skips it while you iterate.
# (Not named LINT: make has a built-in variable of that name.)
STYLE_CHECK ?= 1
RUFF_PATHS := src tests benchmarks

.PHONY: report quarto-report test soak lint lab baselines bench synth clean-outputs

report: $(STAMP)
	$(PY) -m mentoring_eval run

# What `quarto render` and `quarto preview` at the root run first (_quarto.yml's
# pre-render): the pipeline, rendered by Quarto.
quarto-report: $(STAMP)
	$(PY) -m mentoring_eval run --renderer quarto

# The tests on two workers (pytest-xdist), each test file on one worker as a
# whole, the ten slowest listed at the end (to see where the minutes go); then nbval over the notebooks, in order, in one process (they share
# data/processed; tests/conftest.py says more). Both always run; either failing fails.
test: $(STAMP)
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

bench: $(STAMP)
	$(PY) benchmarks/bench_everyday.py
	$(PY) benchmarks/bench_clean.py
	$(PY) benchmarks/bench_pipeline.py
	$(PY) benchmarks/bench_sites.py
	$(PY) benchmarks/bench_bundle.py

synth: $(STAMP)
	$(PY) -m mentoring_eval.synth

$(STAMP): requirements.txt constraints.txt pyproject.toml
	@echo "Creating the environment in $(VENV) (first use only)..."
	$(PYTHON) -m venv --clear $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt -c constraints.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
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

$(LAB_STAMP): requirements-lab.txt constraints.txt
	@echo "Creating JupyterLab's environment in $(LAB_VENV) (first make lab only)..."
	$(PYTHON) -m venv --clear $(LAB_VENV)
	@echo '*' > $(LAB_VENV)/.gitignore  # git ignores the whole environment (as venv does from Python 3.13)
	$(LAB_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-lab.txt -c constraints.txt
	@touch $(LAB_STAMP)
