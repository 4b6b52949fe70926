"""Synthetic data for tests and benchmarks (not part of the product).

Lives outside ``ingest/`` because nothing Headroom runs uses it: the test suite and the
benchmarks import it from the repository root (pytest's rootdir, the benches' ``sys.path``),
and ``pyproject.toml`` leaves it out of the installed package. The demo fleet the product
seeds is built by ``planner/core/demo.py``, not from here.
"""
