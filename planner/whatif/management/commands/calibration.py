import json

from django.core.management.base import BaseCommand

from planner.core.models import Service
from planner.whatif import engine
from planner.whatif.calibration import CALIBRATION_WINDOW_DAYS, as_json, calibrate


class Command(BaseCommand):
    help = (
        "Replay each service's evidence window as deployed and compare the simulated compute "
        "cost and SLO attainment with the bill and the observed SLO."
    )

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="one JSON object per line")
        parser.add_argument("--window-days", type=int, default=CALIBRATION_WINDOW_DAYS)
        parser.add_argument("--service", action="append", help="service slug (repeatable)")

    def handle(self, *args, json: bool, window_days: int, service, **options):
        services = Service.objects.order_by("slug")
        if service:
            services = services.filter(slug__in=service)
        lines, errors, gaps = [], [], []
        for s in services:
            try:
                c = calibrate(s, window_days=window_days)
            except engine.ScenarioInputError as exc:
                self.stderr.write(f"{s.slug}: not calibrated: {exc}")
                continue
            line = as_json(c)
            lines.append(line)
            if c.cost_error_pct is not None:
                errors.append(abs(c.cost_error_pct))
            if c.slo_gap is not None:
                gaps.append(c.slo_gap)
        summary = {
            "services": len(lines),
            "max_abs_cost_error_pct": round(max(errors), 3) if errors else None,
            "max_slo_gap": round(max(gaps), 4) if gaps else None,
        }
        for line in lines:
            self.stdout.write(_dumps(line) if json else _text(line))
        self.stdout.write(_dumps(summary) if json else _text(summary))


def _dumps(obj) -> str:
    return json.dumps(obj, sort_keys=False)


def _text(obj) -> str:
    return "  ".join(f"{k}={v}" for k, v in obj.items())
