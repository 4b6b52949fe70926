"""Command line: ``python -m ingest validate FILE [--allow-mixed-currency] [--json]``.

Prints the file's summary (FOCUS version, rows, billing periods, currency, totals of
BilledCost and EffectiveCost) and exits 0, or prints every problem found and exits 1.
Usage errors exit 2. Needs no Django and no database.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from .focus.errors import FocusValidationError
from .focus.validate import summarise


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m ingest", description="Headroom billing ingestion tools (no database)."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    v = sub.add_parser(
        "validate",
        help="check a FOCUS 1.0-1.4 CSV / CSV.gz / Parquet file of any dataset (local path or s3://)",
        description="Validate a FOCUS file (cost and usage, contract commitment, billing "
        "period or invoice detail), print the FOCUS version and dataset found and a summary, "
        "or its errors.",
    )
    v.add_argument("file", metavar="FILE", help="path or s3://bucket/key")
    v.add_argument(
        "--allow-mixed-currency",
        action="store_true",
        help="accept more than one BillingCurrency (totals are then reported per currency)",
    )
    v.add_argument("--json", action="store_true", help="print a JSON object instead of text")
    v.add_argument(
        "--batch-rows", type=int, default=100_000, help="rows per record batch (default 100000)"
    )
    return parser


def _validate(args: argparse.Namespace) -> int:
    try:
        summary = summarise(
            args.file,
            batch_rows=args.batch_rows,
            allow_mixed_currency=args.allow_mixed_currency,
        )
    except FocusValidationError as exc:
        if args.json:
            payload = {
                "valid": False,
                "source": exc.source,
                "errors": [e.as_dict() for e in exc.errors],
                "message": str(exc),
            }
            print(json.dumps(payload, indent=2))
        else:
            print(str(exc), file=sys.stderr)
        return 1
    except (OSError, ValueError) as exc:
        if args.json:
            print(
                json.dumps({"valid": False, "source": args.file, "errors": [], "message": str(exc)})
            )
        else:
            print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps({"valid": True, **summary.as_dict()}, indent=2))
    else:
        print(summary.render())
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "validate":
        if args.batch_rows < 1:
            parser.error("--batch-rows must be at least 1")
        return _validate(args)
    parser.error(f"unknown command {args.command!r}")  # pragma: no cover
    return 2  # pragma: no cover
