"""The scikit-learn-style contract, run over every estimator in ``costmodels``.

Every ``BaseEstimator`` subclass found in the package must: keep constructor arguments
unchanged as attributes, round-trip through ``get_params``/``set_params``/``clone``, have
no learned (``_``-suffixed) attributes before ``fit``, and -- where a fit recipe is known
below -- return ``self`` from ``fit``, learn ``_`` attributes, be deterministic, and reject
bad parameters in ``fit`` (not ``__init__``). Results of the cost models are frozen
dataclasses with units in field names.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import pkgutil

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, clone

import costmodels
from costmodels import engine, results


def _estimators() -> list[type]:
    found = {}
    for mod in pkgutil.walk_packages(costmodels.__path__, "costmodels."):
        if mod.name.endswith("__main__"):
            continue  # command-line entry points run on import
        module = importlib.import_module(mod.name)  # an import error fails here, loudly
        for _, obj in inspect.getmembers(module, inspect.isclass):
            if (
                issubclass(obj, BaseEstimator)
                and obj.__module__.startswith("costmodels")
                and not inspect.isabstract(obj)
            ):
                found[f"{obj.__module__}.{obj.__qualname__}"] = obj
    return [found[k] for k in sorted(found)]


def _capacity_samples() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rate = rng.uniform(1, 10, 200)
    return pd.DataFrame(
        {
            "request_rate_rps": rate,
            "gpu_util_pct": 100 * rate / 40 * rng.normal(1, 0.01, 200),
        }
    )


#: How to fit the estimators this area owns, and a bad parameter each must reject in fit.
FIT_RECIPES = {
    "CapacityModel": (lambda: _capacity_samples(), {"batch_size": 0}),
}

ESTIMATORS = _estimators()


def test_the_capacity_model_is_discovered():
    assert "CapacityModel" in {e.__name__ for e in ESTIMATORS}


@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: c.__name__)
def test_sklearn_contract(cls):
    est = cls()
    sig = inspect.signature(cls.__init__)
    for name, p in sig.parameters.items():
        if name == "self" or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        assert getattr(est, name) is p.default or getattr(est, name) == p.default, name
    params = est.get_params()
    twin = clone(est)
    assert twin.get_params() == params and twin is not est
    assert not [a for a in vars(est) if a.endswith("_") and not a.startswith("_")]
    recipe = FIT_RECIPES.get(cls.__name__)
    if recipe is None:
        return
    make_x, bad = recipe
    x = make_x()
    fitted = est.fit(x)
    assert fitted is est
    learned = {a: v for a, v in vars(est).items() if a.endswith("_") and not a.startswith("_")}
    assert learned
    again = clone(est).fit(x)
    for a, v in learned.items():
        assert np.array_equal(np.asarray(getattr(again, a)), np.asarray(v)), a
    assert est.get_params() == params  # fit never rewrites constructor parameters
    broken = clone(est).set_params(**bad)  # accepted at construction, refused at fit
    with pytest.raises(ValueError):
        broken.fit(x)


@pytest.mark.parametrize(
    "cls",
    [
        results.SimulationResult,
        engine.Evaluated,
        engine.SearchResult,
        results.RightsizingRecommendation,
        results.AutoscalingPolicy,
        results.PurchaseMix,
    ],
)
def test_results_are_frozen_dataclasses_with_units(cls):
    assert dataclasses.is_dataclass(cls) and cls.__dataclass_params__.frozen
    names = [f.name for f in dataclasses.fields(cls)]
    for n in names:
        if ("cost" in n or "savings" in n) and not n.endswith("_fraction"):
            assert "usd" in n, n
        if "latency" in n or n.endswith("_time"):
            assert n.endswith("_ms") or n.endswith("_s"), n
