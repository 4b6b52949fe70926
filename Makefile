# Headroom — the two commands are `make run` and `make test` (see README).
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
HOST ?= 127.0.0.1
PORT ?= 8000

LOCK := requirements.lock
# Tools that write and check the lock live in their own virtualenv, so the project's stays
# exactly what the lock says. Pinned, so `make lock` resolves the same way on every machine.
TOOLS ?= .venv-tools
PIP_TOOLS := pip-tools==7.7.0
PIP_AUDIT := pip-audit==2.10.1

.PHONY: install lock audit run test test-fast bench lint typecheck clean-var screenshot

# Installs exactly the pinned, hash-checked versions of requirements.lock, then the project
# itself without dependencies. Re-runs only when pyproject.toml or the lock changes.
$(VENV)/.installed: pyproject.toml $(LOCK)
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install -q --require-hashes -r $(LOCK)
	$(PIP) install -q --no-deps -e .
	touch $@

install: $(VENV)/.installed

$(TOOLS)/.installed:
	test -x $(TOOLS)/bin/python || python3 -m venv $(TOOLS)
	$(TOOLS)/bin/pip install -q '$(PIP_TOOLS)' '$(PIP_AUDIT)'
	touch $@

# Re-resolve requirements.lock from pyproject.toml (runtime + dev extra) with every file's hash.
# Existing pins are kept when they still satisfy pyproject.toml, so adding a dependency changes
# only what it needs; `make lock LOCK_ARGS=--upgrade` moves everything to the newest versions.
lock: $(TOOLS)/.installed
	CUSTOM_COMPILE_COMMAND="make lock" $(TOOLS)/bin/pip-compile --quiet --generate-hashes \
	  --allow-unsafe --strip-extras --extra dev --no-emit-index-url --no-emit-find-links \
	  $(LOCK_ARGS) --output-file $(LOCK) pyproject.toml

# Known vulnerabilities in the locked versions (skipped, saying why, when the service is offline).
audit:
	bash .ci/audit

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
