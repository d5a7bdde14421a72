# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test install translations lint messages clean

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip setuptools wheel
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP) translations

# Catalogs are compiled from the committed .po sources on every install, never committed as .mo.
# English is the language of the source strings: its catalog is compiled without statistics, which
# would only count its (deliberately) empty translations; Indonesian's show what is missing.
translations: $(STAMP)
	$(BIN)/pybabel compile --statistics -d translations -l id
	$(BIN)/pybabel compile -d translations -l en

run: install
	$(BIN)/flask --app wsgi db upgrade
	$(BIN)/flask --app wsgi demo
	$(BIN)/flask --app wsgi run --host 127.0.0.1 --port 5000

# The suite runs on every core (pytest-xdist); each worker has its own SQLite files and PostgreSQL
# databases. PYTEST_WORKERS=0 runs it in one process, e.g. to use a debugger.
PYTEST_WORKERS ?= auto

test: install
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .

# Refresh the catalogs after changing user-facing strings; then translate what is new in the .po files.
messages: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext -o translations/messages.pot --no-location --sort-output accounts amanah campaigns documents donations ledger maps opendata organizations reports treasury templates
	$(BIN)/pybabel update -i translations/messages.pot -d translations --no-fuzzy-matching --ignore-obsolete

clean:
	rm -rf $(VENV) *.egg-info
