"""Storing the FOCUS Contract Commitment dataset (1.3+) in the inventory.

The file is read and validated by :func:`ingest.focus.datasets.read_dataset` (row- and
column-precise errors); only a file that validated completely is stored, in one transaction,
so bad input never leaves half an import behind. Each row updates (or creates) the commitment
with the same id: term, cost, quantity, unit, type, category and contract. Importing the same
file twice changes nothing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from django.db import transaction

from ingest.focus.datasets import CONTRACT_COMMITMENT, read_dataset
from planner.commitments.errors import ContractFileError
from planner.commitments.models import Commitment, CommitmentSource
from planner.core.models import CloudAccount


@dataclass(frozen=True)
class ContractImport:
    source: str
    version: str
    rows: int
    created: int
    updated: int
    warnings: list[str]


def _day(value) -> dt.date | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])


def _decimal(value) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def import_contract_commitments(
    path: str | Path, account: CloudAccount | None = None
) -> ContractImport:
    """Validate and store a Contract Commitment file. Raises
    :class:`~ingest.focus.errors.FocusValidationError` (row/column named) for invalid
    content and :class:`ContractFileError` for another FOCUS dataset."""
    data = read_dataset(path)
    if data.dataset != CONTRACT_COMMITMENT:
        raise ContractFileError(
            f"{data.source}: this is the FOCUS {data.version} {data.dataset} dataset, not "
            f"{CONTRACT_COMMITMENT}; upload it where that dataset is read"
        )
    created = updated = 0
    with transaction.atomic():
        for rec in data.table.to_pylist():
            cid = rec.get("ContractCommitmentId")
            if not cid:
                continue
            obj, new = Commitment.objects.select_for_update().get_or_create(commitment_id=cid)
            obj.name = obj.name or (rec.get("ContractCommitmentDescription") or "")[:300]
            obj.commitment_type = rec.get("ContractCommitmentType") or obj.commitment_type
            obj.category = rec.get("ContractCommitmentCategory") or obj.category
            obj.provider = rec.get("ServiceProviderName") or obj.provider
            obj.contract_id = rec.get("ContractId") or obj.contract_id
            obj.quantity = _decimal(rec.get("ContractCommitmentQuantity"))
            obj.unit = rec.get("ContractCommitmentUnit") or obj.unit
            obj.term_cost = _decimal(rec.get("ContractCommitmentCost"))
            obj.currency = rec.get("BillingCurrency") or obj.currency
            obj.period_start = _day(rec.get("ContractCommitmentPeriodStart"))
            obj.period_end = _day(rec.get("ContractCommitmentPeriodEnd"))
            if account is not None and obj.account_id is None:
                obj.account = account
            obj.add_source(CommitmentSource.CONTRACT)
            obj.save()
            created, updated = created + int(new), updated + int(not new)
    return ContractImport(data.source, data.version, data.rows, created, updated, data.warnings)
