# Fairlabel: `make run` and `make test` are all the set-up a fresh machine needs.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint format venv migrate demo clean web worker beat

venv: $(STAMP)

$(STAMP): pyproject.toml requirements.lock
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.lock -e '.[dev]'
	touch $(STAMP)

migrate: venv
	mkdir -p var/celery
	$(PY) manage.py migrate --noinput

demo: migrate
	$(PY) manage.py demo

# Web server, Celery worker and beat together, supervised by scripts/run.py: a busy port
# starts nothing, the URL is printed last, and Ctrl-C or SIGTERM stops all three.
run: demo
	@exec $(PY) scripts/run.py --host $(HOST) --port $(PORT) --python $(PY)

test: venv
	$(BIN)/pytest $(PYTEST_ARGS)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: venv
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) var/fairlabel.sqlite3 var/celery var/media var/exports
