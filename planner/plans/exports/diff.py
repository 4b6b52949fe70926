"""Compare two sets of plan decisions: cost and every changed setting.

Used by the plan page ("diff vs the currently applied plan") and by the
GitOps bundle's CHANGES.md. Decisions are matched by ``service_slug``; nested
settings are flattened to dotted paths (``scale_down.stabilization_window_seconds``,
``metric.threshold``) so each change is one row a reviewer can read.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from .decision import PlanDecision

IGNORED = ("expected_monthly_cost_usd", "slo_attainment")


@dataclass(frozen=True)
class SettingChange:
    """One setting that differs: ``field`` is a dotted path."""

    field: str
    old: Any
    new: Any

    @property
    def old_display(self) -> str:
        return _fmt(self.old)

    @property
    def new_display(self) -> str:
        return _fmt(self.new)


@dataclass(frozen=True)
class ServiceDiff:
    """How one service's decision changed between two plans."""

    service_slug: str
    status: Literal["added", "removed", "changed", "unchanged"]
    changes: tuple[SettingChange, ...]
    old_cost_usd: float
    new_cost_usd: float

    @property
    def cost_delta_usd(self) -> float:
        return self.new_cost_usd - self.old_cost_usd


@dataclass(frozen=True)
class PlanDiff:
    """All services' diffs plus the monthly cost totals (USD/month)."""

    services: tuple[ServiceDiff, ...]
    old_monthly_cost_usd: float
    new_monthly_cost_usd: float

    @property
    def cost_delta_usd(self) -> float:
        return self.new_monthly_cost_usd - self.old_monthly_cost_usd

    @property
    def changed(self) -> tuple[ServiceDiff, ...]:
        return tuple(s for s in self.services if s.status != "unchanged")


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Nested dicts to ``{"a.b": v}``; lists stay whole (compared as a unit)."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    return {prefix: value}


def setting_changes(old: PlanDecision, new: PlanDecision) -> tuple[SettingChange, ...]:
    a, b = flatten(old.as_settings()), flatten(new.as_settings())
    keys = sorted(set(a) | set(b))
    return tuple(
        SettingChange(k, a.get(k), b.get(k))
        for k in keys
        if a.get(k) != b.get(k) and k.split(".")[0] not in IGNORED
    )


def diff_plans(old: Iterable[PlanDecision], new: Iterable[PlanDecision]) -> PlanDiff:
    """Diff ``old`` (e.g. the applied plan, may be empty) against ``new``."""
    old_by = {d.service_slug: d for d in old}
    new_by = {d.service_slug: d for d in new}
    services: list[ServiceDiff] = []
    for slug in sorted(set(old_by) | set(new_by)):
        o, n = old_by.get(slug), new_by.get(slug)
        oc = o.expected_monthly_cost_usd if o else 0.0
        nc = n.expected_monthly_cost_usd if n else 0.0
        if o is None:
            services.append(ServiceDiff(slug, "added", (), oc, nc))
        elif n is None:
            services.append(ServiceDiff(slug, "removed", (), oc, nc))
        else:
            changes = setting_changes(o, n)
            status = "changed" if changes else "unchanged"
            services.append(ServiceDiff(slug, status, changes, oc, nc))
    return PlanDiff(
        tuple(services),
        sum(d.expected_monthly_cost_usd for d in old_by.values()),
        sum(d.expected_monthly_cost_usd for d in new_by.values()),
    )


def _fmt(value: Any) -> str:
    """Readable setting value: lists joined, policies as "2 Pods/60s", windows as cron ranges."""
    if value is None or value == "":
        return "—"
    if isinstance(value, list):
        return "; ".join(_fmt(v) for v in value) if value else "—"
    if isinstance(value, dict):
        if {"type", "value", "period_seconds"} <= set(value):
            return f"{value['value']} {value['type']}/{value['period_seconds']}s"
        if {"start_cron", "end_cron", "desired_replicas"} <= set(value):
            return (
                f"{value.get('name', '')} {value['start_cron']}..{value['end_cron']} "
                f"{value.get('timezone', '')} >= {value['desired_replicas']}"
            ).strip()
        return ", ".join(f"{k}={_fmt(v)}" for k, v in value.items())
    return str(value)


def changes_markdown(
    diff: PlanDiff, new: Sequence[PlanDecision], title: str = "Headroom plan"
) -> str:
    """Human-readable summary (CHANGES.md) of what the bundle changes and why it matters."""
    lines = [f"# {title}", ""]
    lines.append(
        f"Expected monthly cost: ${diff.old_monthly_cost_usd:,.2f} -> "
        f"${diff.new_monthly_cost_usd:,.2f} ({diff.cost_delta_usd:+,.2f} USD/month)."
    )
    lines.append("")
    by_slug = {d.service_slug: d for d in new}
    for s in diff.services:
        d = by_slug.get(s.service_slug)
        where = f" ({d.cluster}/{d.namespace})" if d else ""
        lines.append(f"## {s.service_slug}{where}: {s.status}")
        lines.append(
            f"- monthly cost: ${s.old_cost_usd:,.2f} -> ${s.new_cost_usd:,.2f} "
            f"({s.cost_delta_usd:+,.2f})"
        )
        if d is not None:
            lines.append(f"- SLO attainment expected: {d.slo_attainment:.2%}")
            if d.schedules:
                names = ", ".join(
                    f"{w.name} {w.start_cron}..{w.end_cron} {w.timezone} >= {w.desired_replicas}"
                    for w in d.schedules
                )
                lines.append(f"- scheduled pre-scaling: {names}")
            for c in d.commitments:
                lines.append(
                    f"- buy {c.quantity} x {c.instance_type} {c.kind} for {c.term_months} months "
                    f"(${c.hourly_commitment_usd:,.2f}/h, saves ~${c.expected_monthly_savings_usd:,.2f}/month)"
                )
        for c in s.changes:
            lines.append(f"- `{c.field}`: {_fmt(c.old)} -> {_fmt(c.new)}")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"
