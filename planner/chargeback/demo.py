"""Demo FinOps setup over the demo fleet: teams with tag rules and shared-cost pools, a monthly
report subscription, and the fleet's commitments with their terms, stored through the real
Contract Commitment import (a FOCUS 1.3 file written from the demo catalog's commitment prices).
Idempotent: a second run changes nothing."""

from __future__ import annotations

import csv
import datetime as dt
import tempfile
from pathlib import Path

from django.db.models import Max

from planner.billing.models import CostRollup
from planner.chargeback.models import ReportSubscription, SharedCostPool, TagRule, Team
from planner.commitments.contracts import import_contract_commitments
from planner.commitments.inventory import default_window, sync_from_line_items
from planner.commitments.models import ExpiryAlertRule
from planner.core import demo

#: team name, cost centre, the demo tags' ``modality`` values it owns
TEAMS = (
    ("Conversational AI", "CC-1100", ("llm_chat",)),
    ("Search & Embeddings", "CC-1200", ("embeddings",)),
    ("Media Generation", "CC-1300", ("image_generation", "video")),
    ("Speech", "CC-1400", ("speech_to_text", "text_to_speech")),
    ("Data Platform", "CC-1500", ("batch",)),
)
#: days from the last charged day to each commitment's expiry, in SERVICES order (staggered so
#: the expiry calendar and the 30-day alert both have something to show)
EXPIRY_DAYS = (21, 48, 80, 130, 200, 290, 380)
CONTRACT_TYPE = {"aws": "Savings Plan", "azure": "Reservation", "gcp": "Committed Use Discount"}
HOURS_PER_YEAR = 8760


def _teams() -> None:
    for name, centre, modalities in TEAMS:
        team, _ = Team.objects.update_or_create(name=name, defaults={"cost_centre": centre})
        for m in modalities:
            TagRule.objects.update_or_create(
                tag_key="modality", tag_value=m, defaults={"team": team, "priority": 10}
            )
    # the egress records carry only service=chat-assistant
    TagRule.objects.update_or_create(
        tag_key="service",
        tag_value="chat-assistant",
        defaults={"team": Team.objects.get(name="Conversational AI"), "priority": 20},
    )
    SharedCostPool.objects.update_or_create(
        name="Model artefact storage",
        defaults={
            "match_field": "ServiceCategory",
            "match_value": "Storage",
            "method": "usage",
            "usage_unit": "Hours",
            "priority": 10,
        },
    )
    SharedCostPool.objects.update_or_create(
        name="Provider credits",
        defaults={
            "match_field": "ChargeCategory",
            "match_value": "Credit",
            "method": "spend",
            "priority": 20,
        },
    )
    ReportSubscription.objects.get_or_create(
        name="Finance monthly chargeback",
        defaults={"recipients": "finance@example.com", "frequency": "monthly"},
    )


def _contract_file(path: Path, last_day: dt.date) -> Path:
    catalog = demo.load_catalog()
    header = [
        "ContractCommitmentId",
        "ContractCommitmentType",
        "ContractCommitmentCategory",
        "ContractCommitmentCost",
        "ContractCommitmentQuantity",
        "ContractCommitmentUnit",
        "ContractCommitmentDescription",
        "ContractCommitmentPeriodStart",
        "ContractCommitmentPeriodEnd",
        "ContractId",
        "ContractPeriodStart",
        "ContractPeriodEnd",
        "BillingCurrency",
    ]
    with path.open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(header)
        for svc, days in zip(demo.SERVICES, EXPIRY_DAYS, strict=False):
            if not svc.committed_replicas:
                continue
            price = catalog[(svc.provider, svc.instance_type, svc.region)]["commit_1y_usd_per_hour"]
            end = last_day + dt.timedelta(days=days)
            start = end - dt.timedelta(days=365)
            qty = svc.committed_replicas * HOURS_PER_YEAR
            out.writerow(
                [
                    f"commit-{svc.slug}",
                    CONTRACT_TYPE[svc.provider],
                    "Usage",
                    f"{qty * price:.2f}",
                    qty,
                    "Hours",
                    f"{svc.name}: {svc.committed_replicas} × {svc.instance_type}, 1 year",
                    f"{start}T00:00:00Z",
                    f"{end}T00:00:00Z",
                    f"demo-contract-{svc.provider}",
                    f"{start}T00:00:00Z",
                    f"{end}T00:00:00Z",
                    "USD",
                ]
            )
    return path


def seed_demo_finops() -> str:
    """Teams, rules, a subscription and the commitments inventory for the demo fleet."""
    _teams()
    last_day = CostRollup.objects.aggregate(d=Max("date"))["d"]
    if last_day is None:
        return "chargeback: demo teams and rules (no billing data for commitments yet)"
    start, end = default_window(last_day, days=45)
    sync_from_line_items(start, end)
    with tempfile.TemporaryDirectory() as tmp:
        imported = import_contract_commitments(
            _contract_file(Path(tmp) / "demo_contract_commitment.csv", last_day)
        )
    ExpiryAlertRule.objects.get_or_create(
        name="FinOps: commitments ending", defaults={"recipients": "finops@example.com"}
    )
    return (
        f"chargeback: {Team.objects.count()} teams, {TagRule.objects.count()} tag rules, "
        f"{SharedCostPool.objects.count()} shared-cost pools; commitments: {imported.rows} terms "
        "from a FOCUS 1.3 Contract Commitment file"
    )
