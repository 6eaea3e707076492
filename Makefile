# Edge Platform — every command a checkout needs. `make run` and `make test`
# work on a fresh machine: they create .venv first when it is missing.
PY      := .venv/bin/python
STAMP   := .venv/.installed
CHROMIUM := .venv/.chromium-checked
# root runs apt-get itself; anyone else only through password-less sudo
SUDO    := $(shell [ "$$(id -u)" -eq 0 ] || { command -v sudo >/dev/null && echo "sudo -n"; })

.PHONY: setup setup-ldap run worker test bench lint migrate
setup: $(STAMP) $(CHROMIUM)

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || python3 -m venv .venv
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt -r requirements-dev.txt
	touch $(STAMP)

## Chromium for the browser tests (Debian packages chromium + chromium-driver), tried once per .venv when
## /usr/bin/chromium is missing and apt-get is there; without it the browser tests skip.
$(CHROMIUM): | $(STAMP)
	@if [ ! -x /usr/bin/chromium ] && command -v apt-get >/dev/null; then \
	  ( $(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q chromium chromium-driver ) \
	  || echo "Chromium could not be installed: the browser tests will be skipped"; fi
	@touch $@

## Optional LDAP login: python-ldap needs the OpenLDAP and SASL headers to build.
setup-ldap: $(STAMP)
	$(SUDO) apt-get update
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y libldap2-dev libsasl2-dev
	$(PY) -m pip install --quiet -r requirements-ldap.txt

migrate: $(STAMP)
	$(PY) manage.py migrate --noinput

## Start the web server (gunicorn, edgeplatform/serving/gunicorn_conf.py), Celery worker and beat on embedded
## defaults (SQLite, filesystem broker).
run: $(STAMP)
	$(PY) manage.py migrate --noinput
	$(PY) manage.py collectstatic --noinput --verbosity 0
	$(PY) manage.py ensure_admin
	@# web, worker and beat write their figures into one metrics folder, emptied at each start, and /metrics adds them up
	export EDGE_METRICS_DIR="$${EDGE_METRICS_DIR:-$${EDGE_VAR_DIR:-var}/metrics}"; rm -rf "$$EDGE_METRICS_DIR"; \
	  $(PY) -m honcho -f deploy/Procfile start

## Run the whole test suite (against PostgreSQL and Redis when they are reachable).
test: $(STAMP) $(CHROMIUM)
	$(PY) -m edgeplatform.testenv -- $(PY) -m pytest $(PYTEST_ARGS)

## Every benchmark; BENCH_ARGS="--quick" for a short run, "--postgres --redis" where a benchmark takes them.
bench: $(STAMP)
	$(PY) bench/permissions.py $(BENCH_ARGS)
	$(PY) bench/audit_overhead.py $(filter --quick --postgres,$(BENCH_ARGS))
	$(PY) bench/rbac.py $(filter --quick,$(BENCH_ARGS))
	$(PY) bench/sync.py $(filter --quick,$(BENCH_ARGS))
	$(PY) bench/bodies.py $(filter --quick,$(BENCH_ARGS))
	$(PY) bench/controllers.py $(filter --quick,$(BENCH_ARGS))
	$(PY) bench/components.py $(filter --quick,$(BENCH_ARGS))
	$(PY) bench/fleet.py $(filter --quick,$(BENCH_ARGS))
	$(PY) bench/rollout.py $(filter --quick,$(BENCH_ARGS))
	$(PY) bench/api.py $(filter --quick,$(BENCH_ARGS))

lint: $(STAMP)
	$(PY) -m ruff check .
	.venv/bin/lint-imports
