"""Errors: each package has one base class, and no domain error is a ValueError (so an
``except ValueError`` can never swallow an unrelated bug as bad input, or the reverse)."""

import importlib
import pkgutil

import pytest
from rest_framework.exceptions import APIException

from costmodels.errors import CostModelError
from ingest.errors import IngestError
from planner.errors import HeadroomError

BASES = {"planner": HeadroomError, "ingest": IngestError, "costmodels": CostModelError}


def _modules(package: str):
    pkg = importlib.import_module(package)
    for info in pkgutil.walk_packages(pkg.__path__, f"{package}."):
        if ".migrations" in info.name or info.name.endswith("__main__"):
            continue
        yield importlib.import_module(info.name)  # an import error fails the test, loudly


def _domain_errors(package: str) -> list[type]:
    found = {}
    for module in _modules(package):
        # ``type(value)``, not ``isinstance``/``inspect.isclass``: those read ``__class__``, which on
        # a Celery task proxy resolves the task on whichever app is current (a test's own app
        # may not have it registered), so the walk would depend on which tests ran before it.
        for name, cls in list(vars(module).items()):
            if (
                issubclass(type(cls), type)
                and cls.__module__ == module.__name__
                and issubclass(cls, Exception)
                and not issubclass(cls, APIException)  # an HTTP answer, not a domain error
            ):
                found[f"{cls.__module__}.{name}"] = cls
    return sorted(found.values(), key=lambda c: c.__qualname__)


@pytest.mark.parametrize("package", sorted(BASES))
def test_every_domain_error_derives_from_the_package_base_and_not_value_error(package):
    errors = _domain_errors(package)
    assert len(errors) >= 3, errors  # the walk found the package's errors
    wrong_base = [c for c in errors if not issubclass(c, BASES[package])]
    value_errors = [c for c in errors if issubclass(c, ValueError)]
    assert wrong_base == [] and value_errors == []


def test_each_package_keeps_its_errors_in_errors_modules():
    for package in BASES:
        outside = [
            f"{c.__module__}.{c.__qualname__}"
            for c in _domain_errors(package)
            if not c.__module__.endswith(".errors")
        ]
        assert outside == [], outside
