"""Deprecated <-> new FOCUS columns, in both directions.

FOCUS 1.3 split the provider into ``ServiceProviderName`` (who sells the service; it
replaces ``ProviderName``) and ``HostProviderName`` (whose infrastructure runs it; it MUST
equal ``ServiceProviderName`` unless the host is exposed), and deprecated ``ProviderName``
and ``PublisherName``; FOCUS 1.4 removed both. ``PublisherName`` has no 1.4 replacement.

* **Up** (:func:`upgrade_columns`, a 1.0-1.3 file into the canonical 1.4 shape):
  ``ServiceProviderName`` <- ``ProviderName`` when the file lacks it, ``HostProviderName`` <-
  ``ServiceProviderName`` when the file lacks it. A deprecated column's value is kept in
  ``x_Extensions`` on the rows where it says something the 1.4 columns do not (it differs
  from ``ServiceProviderName``: a marketplace publisher), so nothing is lost.
* **Down** (:func:`downgrade_table`, the canonical table to an older release's columns):
  ``ProviderName`` <- ``ServiceProviderName``, ``PublisherName`` <- the kept
  ``x_Extensions`` value or else ``ServiceProviderName``; columns the release lacks dropped.
"""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.compute as pc

from .schema import CANONICAL_SCHEMA, EXTENSIONS_COLUMN, columns_for

#: deprecated column -> the 1.4 column that replaces it (or carries the same provider).
DEPRECATED_TO_NEW: dict[str, str] = {
    "ProviderName": "ServiceProviderName",
    "PublisherName": "ServiceProviderName",
}
#: 1.3+ column -> the column it is derived from when a file lacks it.
NEW_FROM: dict[str, str] = {
    "ServiceProviderName": "ProviderName",
    "HostProviderName": "ServiceProviderName",
}


def _text(arr: pa.Array) -> pa.Array:
    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_decode()
    return arr if arr.type == pa.string() else pc.cast(arr, pa.string())


def upgrade_columns(given: dict[str, pa.Array]) -> tuple[dict[str, pa.Array], dict[str, pa.Array]]:
    """(columns with the 1.3+ provider columns filled in, deprecated values to keep).

    ``given`` maps the file's column names to arrays (as read). The second result maps a
    deprecated column name to its values on the rows where they differ from
    ``ServiceProviderName`` (null elsewhere), for ``x_Extensions``."""
    out = dict(given)
    for new, old in NEW_FROM.items():
        if new not in out and old in out:
            out[new] = out[old]
    kept: dict[str, pa.Array] = {}
    service = out.get("ServiceProviderName")
    for old in DEPRECATED_TO_NEW:
        arr = out.pop(old, None)
        if arr is None:
            continue
        if service is None:
            kept[old] = arr
            continue
        old_t, new_t = _text(arr), _text(service)
        same = pc.fill_null(pc.equal(old_t, new_t), False)
        if pc.all(pc.or_(same, pc.is_null(old_t))).as_py():
            continue  # nothing the 1.4 columns do not already say
        kept[old] = pc.if_else(same, pa.scalar(None, pa.string()), old_t)
    return out, kept


def _extension_values(table: pa.Table, key: str) -> pa.Array:
    ext = table.column(EXTENSIONS_COLUMN).combine_chunks()
    values = [json.loads(v).get(key) if v else None for v in _text(ext).to_pylist()]
    return pa.array(values, pa.string())


def downgrade_table(table: pa.Table, version: str) -> pa.Table:
    """The canonical (1.4) ``table`` with exactly the columns of FOCUS ``version`` (spec
    order), the deprecated provider columns restored from their replacements."""
    if table.schema.names != CANONICAL_SCHEMA.names:
        raise ValueError("downgrade_table expects a table in the canonical FOCUS 1.4 shape")
    service = table.column("ServiceProviderName").combine_chunks()
    restored = {
        "ProviderName": service,
        "PublisherName": pc.coalesce(_extension_values(table, "PublisherName"), _text(service)),
    }
    names = [c.name for c in columns_for(version)]
    arrays = [restored[n] if n in restored else table.column(n) for n in names]
    return pa.table(arrays, names=names)
