# Edge Platform — every command a checkout needs. `make run` and `make test`
# work on a fresh machine: they create .venv first when it is missing.
PY      := .venv/bin/python
STAMP   := .venv/.installed

.PHONY: setup run worker test bench lint migrate
setup: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || python3 -m venv .venv
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt -r requirements-dev.txt
	touch $(STAMP)

migrate: $(STAMP)
	$(PY) manage.py migrate --noinput

## Start web server, Celery worker and beat on embedded defaults (SQLite, filesystem broker).
run: $(STAMP)
	$(PY) manage.py migrate --noinput
	$(PY) manage.py ensure_admin
	$(PY) -m honcho -f deploy/Procfile start

## Run the whole test suite (against PostgreSQL and Redis when they are reachable).
test: $(STAMP)
	$(PY) -m edgeplatform.testenv -- $(PY) -m pytest $(PYTEST_ARGS)

bench: $(STAMP)
	$(PY) bench/permissions.py $(BENCH_ARGS)

lint: $(STAMP)
	$(PY) -m ruff check .
