# Headroom — the two commands are `make run` and `make test` (see README).
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install run test test-fast bench lint typecheck clean-var screenshot

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e '.[dev]'
	touch $@

install: $(VENV)/.installed

run: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo --if-empty
	SITE_URL=$${SITE_URL:-http://$(HOST):$(PORT)} $(PY) manage.py demo_login
	$(PY) manage.py runserver $(HOST):$(PORT)

test: install
	$(PY) -m pytest $(PYTEST_ARGS)

test-fast: install
	$(PY) -m pytest -m "not system and not browser and not slow" $(PYTEST_ARGS)

bench: install
	@set -e; for f in bench/*.py; do echo "== $$f"; $(PY) $$f; done

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: install
	$(VENV)/bin/mypy

clean-var:
	rm -rf var/

# Refresh the README's dashboard screenshot (tests never write into the work tree otherwise).
screenshot: install
	HEADROOM_README_SCREENSHOT=$(CURDIR)/docs/screenshot-dashboard.png $(PY) -m pytest -q -p no:cacheprovider \
		"tests/browser/test_ui.py::test_viewer_sees_charts_filters_change_numbers_and_cannot_accept"
