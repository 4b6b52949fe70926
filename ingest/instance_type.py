"""The instance type (machine size) of each billing record, from whichever column its source uses.

A record's SKU is not its instance type: a CUR's ``SkuId`` is ``product_sku`` (an opaque code),
Azure's a meter id, Google's a SKU id such as ``CF4E-A0C7-E3BF``. The instance type is what a
deployment names (``g5.12xlarge``, ``Standard_NC24ads_A100_v4``, ``g2-standard-8``) and is found
here, first match wins:

====================================  =========================================================
where (canonical FOCUS batch)         source
====================================  =========================================================
``x_Extensions`` ``x_InstanceType``   AWS CUR ``product_instance_type``, Cost Explorer
                                      ``INSTANCE_TYPE``, the demo fleet
``x_Extensions`` ``x_MachineType``    Google billing export (system label
                                      ``compute.googleapis.com/machine_spec``)
``x_Extensions`` ``x_ArmSkuName``     Azure cost details / price sheet ``ArmSkuName``
``x_Extensions`` ``x_SkuDetails``     Azure FOCUS export: its ``ServiceType`` (the VM size, as
                                      in ``AdditionalInfo``)
``SkuPriceDetails``                   FOCUS 1.1+: ``InstanceType``, ``x_InstanceType``,
                                      ``ServiceType`` or ``x_ServiceType``
``Tags``                              ``compute.googleapis.com/machine_spec`` (Google FOCUS view)
====================================  =========================================================

Records with none of these (storage, egress, credits, Cost Management query rows) have ''.
Only the distinct texts of each column are searched (dictionary-encoded), so the cost is per
distinct value, not per row. No Django here: :mod:`planner.billing.rollup` calls it.
"""

from __future__ import annotations

import re

import pyarrow as pa
import pyarrow.compute as pc

#: (column, keys searched in its JSON text, in order). A key may sit in nested JSON text that
#: is itself a string value (``x_Extensions``' ``x_SkuDetails``), so quotes may be escaped.
SOURCES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("x_Extensions", ("x_InstanceType", "x_MachineType", "x_ArmSkuName", "ServiceType")),
    ("SkuPriceDetails", ("InstanceType", "x_InstanceType", "ServiceType", "x_ServiceType")),
    ("Tags", ("compute.googleapis.com/machine_spec",)),
)


def json_values(texts: pa.Array, key: str) -> pa.Array:
    """Per JSON text: the string value of ``key`` (at any depth, quotes escaped or not), or
    null when absent or empty."""
    q = r'\\?"'
    pattern = q + re.escape(key) + q + r"\s*:\s*" + q + r'(?P<v>[^"\\]+)'
    found = pc.struct_field(pc.extract_regex(pc.cast(texts, pa.string()), pattern), "v")
    return pc.if_else(pc.equal(pc.utf8_trim_whitespace(found), ""), None, found)


def _encoded(batch: pa.RecordBatch | pa.Table, name: str) -> pa.DictionaryArray | None:
    idx = batch.schema.get_field_index(name)
    if idx < 0:
        return None
    col = batch.column(idx)
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    if not pa.types.is_dictionary(col.type):
        col = pc.dictionary_encode(pc.cast(col, pa.string()))
    return col


def instance_types(batch: pa.RecordBatch | pa.Table) -> pa.Array:
    """Per row of a canonical FOCUS batch: its instance type, or '' when none is named."""
    found = pa.nulls(batch.num_rows, pa.string())
    for name, keys in SOURCES:
        enc = _encoded(batch, name)
        if enc is None or enc.null_count == len(enc):
            continue
        per_value = pa.nulls(len(enc.dictionary), pa.string())
        for key in keys:
            per_value = pc.coalesce(per_value, json_values(enc.dictionary, key))
        found = pc.coalesce(found, pc.take(per_value, enc.indices))
    return pc.fill_null(found, "")
