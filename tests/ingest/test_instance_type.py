"""ingest.instance_type: the machine size of each record, from the column its source uses."""

import json

import pyarrow as pa

from ingest.instance_type import instance_types


def test_each_source_column_is_read_and_the_first_match_wins():
    ext = [
        json.dumps({"x_InstanceType": "g5.12xlarge", "x_UsageType": "USE1-BoxUsage"}),  # CUR
        json.dumps({"x_SkuDetails": json.dumps({"ServiceType": "Standard_NC4as_T4_v3"})}),  # Azure
        json.dumps({"x_MachineType": "g2-standard-8"}),  # Google billing export
        None,
        None,
        json.dumps({"x_InstanceType": "p5.48xlarge"}),
        json.dumps({"x_InstanceType": ""}),  # empty: not a type
    ]
    details = [
        None,
        None,
        None,
        json.dumps({"InstanceType": "m7i.large"}),
        None,
        json.dumps({"InstanceType": "other"}),
        None,
    ]
    tags = [
        None,
        None,
        None,
        None,
        json.dumps({"compute.googleapis.com/machine_spec": "a2-highgpu-1g", "team": "x"}),
        None,
        json.dumps({"team": "x"}),
    ]
    batch = pa.table({"x_Extensions": ext, "SkuPriceDetails": details, "Tags": tags})
    assert instance_types(batch).to_pylist() == [
        "g5.12xlarge",
        "Standard_NC4as_T4_v3",
        "g2-standard-8",
        "m7i.large",
        "a2-highgpu-1g",
        "p5.48xlarge",  # x_Extensions before SkuPriceDetails
        "",
    ]


def test_missing_columns_and_dictionary_input():
    assert instance_types(pa.table({"BilledCost": [1.0, 2.0]})).to_pylist() == ["", ""]
    enc = pa.array([json.dumps({"x_InstanceType": "g6.xlarge"}), None] * 3).dictionary_encode()
    assert instance_types(pa.table({"x_Extensions": enc})).to_pylist() == ["g6.xlarge", ""] * 3
