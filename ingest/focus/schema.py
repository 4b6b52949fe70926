"""FOCUS column specifications per release (1.0, 1.1, 1.2) and the canonical table shape.

Built from the CC-BY-4.0 FOCUS specification files in ``ingest/focus/spec/`` (see
``spec/PROVENANCE.md``). Headroom stores every billing record in the canonical
FOCUS 1.2 shape, :data:`CANONICAL_SCHEMA`:

* Decimal columns (costs, prices, quantities) -> ``float64`` in the billing currency
  (costs, prices) or the column's unit (quantities);
* Date/Time columns -> ``timestamp('us', tz='UTC')``; a timestamp written without a zone
  is taken to be UTC;
* everything else -> ``string``; ``Tags`` and ``SkuPriceDetails`` hold a normalised JSON
  object (keys sorted, compact separators) or null;
* one extra column :data:`EXTENSIONS_COLUMN` (``x_Extensions``): a JSON object of every
  provider ``x_*`` column and every non-FOCUS column of the row (values as strings, null
  values omitted), or null when the row has none.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pyarrow as pa

from .errors import FocusError, FocusValidationError, NotFocusError

SPEC_DIR = Path(__file__).resolve().parent / "spec"
VERSIONS: tuple[str, ...] = ("1.0", "1.1", "1.2")
CANONICAL_VERSION = "1.2"
EXTENSIONS_COLUMN = "x_Extensions"

#: Columns whose null values make a row unusable for cost reporting: a null here is an
#: error. Nulls in FOCUS's other not-null columns (e.g. ContractedCost) only warn.
ESSENTIAL_COLUMNS: frozenset[str] = frozenset(
    {
        "BilledCost",
        "EffectiveCost",
        "BillingCurrency",
        "BillingPeriodStart",
        "BillingPeriodEnd",
        "ChargePeriodStart",
        "ChargePeriodEnd",
        "ChargeCategory",
    }
)

#: Share of the FOCUS 1.0 mandatory columns a file must have to count as FOCUS at all.
MIN_FOCUS_SHARE = 0.5


@dataclass(frozen=True)
class ColumnSpec:
    """One FOCUS column as the specification defines it."""

    name: str
    display_name: str
    column_type: str  # "Dimension" | "Metric"
    feature_level: str  # "Mandatory" | "Conditional" | "Recommended"
    allows_nulls: bool
    data_type: str  # "String" | "Decimal" | "Date/Time" | "JSON"
    introduced: str
    versions: frozenset[str]

    @property
    def kind(self) -> str:
        """``"decimal"``, ``"datetime"``, ``"json"`` or ``"string"``."""
        return {"Decimal": "decimal", "Date/Time": "datetime", "JSON": "json"}.get(
            self.data_type, "string"
        )

    @property
    def arrow_type(self) -> pa.DataType:
        """The column's type in :data:`CANONICAL_SCHEMA`."""
        if self.kind == "decimal":
            return pa.float64()
        if self.kind == "datetime":
            return pa.timestamp("us", tz="UTC")
        return pa.string()

    @property
    def required(self) -> bool:
        """Mandatory columns must be present in every FOCUS file of their versions."""
        return self.feature_level == "Mandatory"

    @property
    def expected(self) -> str:
        """Human description of an acceptable value, for error messages."""
        return {
            "decimal": "a decimal number such as 12.5 or -0.03",
            "datetime": "a date-time such as 2024-09-01T00:00:00Z or 2024-09-01 00:00:00 (UTC)",
            "json": 'a JSON object such as {"service": "chat"}',
        }.get(self.kind, "a text value")


@dataclass(frozen=True)
class AllowedValues:
    """The closed list of values a column accepts in one FOCUS release."""

    column: str
    values: tuple[str, ...]
    severity: str  # "error": unknown values are rejected; "warning": only reported


def _read_column_list(version: str) -> tuple[str, ...]:
    path = SPEC_DIR / f"focus_columns_v{version}.txt"
    lines = path.read_text(encoding="utf-8").splitlines()
    return tuple(s.strip() for s in lines if s.strip() and not s.startswith("#"))


@cache
def all_column_specs() -> dict[str, ColumnSpec]:
    """Every FOCUS 1.0-1.2 column by name, from ``focus_columns_by_version.csv``."""
    specs: dict[str, ColumnSpec] = {}
    with open(SPEC_DIR / "focus_columns_by_version.csv", newline="", encoding="utf-8") as f:
        for rec in csv.DictReader(f):
            versions = frozenset(
                v for v in VERSIONS if rec[f"in_v{v.replace('.', '_')}"].strip() == "1"
            )
            specs[rec["column_id"]] = ColumnSpec(
                name=rec["column_id"],
                display_name=rec["display_name"] or rec["column_id"],
                column_type=rec["column_type"],
                feature_level=rec["feature_level"],
                allows_nulls=rec["allows_nulls"].strip() == "True",
                data_type=rec["data_type"],
                introduced=rec["introduced_version"],
                versions=versions,
            )
    return specs


@cache
def columns_for(version: str) -> tuple[ColumnSpec, ...]:
    """The columns of one FOCUS release, in the order of the specification's list."""
    _check_version(version)
    specs = all_column_specs()
    return tuple(specs[name] for name in _read_column_list(version))


def required_columns(version: str) -> tuple[str, ...]:
    """Names of the Mandatory columns of ``version`` (must be present in a file)."""
    return tuple(c.name for c in columns_for(version) if c.required)


@cache
def allowed_values(version: str) -> dict[str, AllowedValues]:
    """Closed value lists of ``version`` by column name."""
    _check_version(version)
    found: dict[str, tuple[list[str], str]] = {}
    with open(SPEC_DIR / "allowed_values.csv", newline="", encoding="utf-8") as f:
        for rec in csv.DictReader(f):
            if rec["version"] == version:
                vals, _ = found.setdefault(rec["column_id"], ([], rec["severity"]))
                vals.append(rec["value"])
    return {col: AllowedValues(col, tuple(v), sev) for col, (v, sev) in found.items()}


def _check_version(version: str) -> None:
    if version not in VERSIONS:
        raise ValueError(f"unknown FOCUS version {version!r}; expected one of {VERSIONS}")


def _canonical_schema() -> pa.Schema:
    fields = [pa.field(c.name, c.arrow_type, nullable=True) for c in columns_for("1.2")]
    fields.append(pa.field(EXTENSIONS_COLUMN, pa.string(), nullable=True))
    return pa.schema(fields)


#: Every FOCUS 1.2 column (spec order) plus ``x_Extensions``.
CANONICAL_SCHEMA: pa.Schema = _canonical_schema()
CANONICAL_COLUMNS: tuple[str, ...] = tuple(CANONICAL_SCHEMA.names)


def is_extension_column(name: str) -> bool:
    """True for columns kept in ``x_Extensions``: provider ``x_*`` and non-FOCUS columns."""
    return name not in all_column_specs()


def detect_version(columns: list[str] | tuple[str, ...], source: str = "<columns>") -> str:
    """FOCUS release of a file from its column names: ``'1.0'``, ``'1.1'`` or ``'1.2'``.

    The newest release whose added columns appear wins (FOCUS has only added columns
    since 1.0, so a 1.2 file that omits every optional 1.2 column reads as 1.1 or 1.0,
    which normalises to the same canonical shape). Raises :class:`NotFocusError` when
    fewer than half of the FOCUS 1.0 mandatory columns are present.
    """
    present = set(columns)
    core = required_columns("1.0")
    found = [c for c in core if c in present]
    if len(found) < MIN_FOCUS_SHARE * len(core):
        lower = {c.lower() for c in present}
        case_hint = sum(c.lower() in lower for c in core) >= MIN_FOCUS_SHARE * len(core)
        shown = ", ".join(list(columns)[:8]) + (", ..." if len(columns) > 8 else "")
        message = (
            f"not a FOCUS billing file: only {len(found)} of the {len(core)} mandatory "
            f"FOCUS 1.0 columns are present (columns seen: {shown or 'none'})"
        )
        if case_hint:
            message += "; FOCUS column names are case-sensitive (e.g. 'BilledCost')"
        raise NotFocusError(
            [
                FocusError(
                    source,
                    None,
                    None,
                    None,
                    "a FOCUS 1.0-1.2 export with columns such as "
                    "BilledCost, ChargePeriodStart, BillingCurrency",
                    message,
                )
            ],
            hint="Export the billing data in FOCUS format (AWS Data Exports 'FOCUS', "
            "Azure Cost Management 'FOCUS cost', GCP FOCUS BigQuery view) and retry.",
        )
    for version in reversed(VERSIONS[1:]):
        added = {c.name for c in columns_for(version)} - {
            c.name for c in columns_for(VERSIONS[VERSIONS.index(version) - 1])
        }
        if added & present:
            return version
    return VERSIONS[0]


def check_header(columns: list[str] | tuple[str, ...], source: str) -> str:
    """Check a file's header; return its FOCUS version.

    Raises :class:`FocusValidationError` listing *all* duplicate column names and *all*
    missing mandatory columns at once (or :class:`NotFocusError`).
    """
    errors: list[FocusError] = []
    seen: set[str] = set()
    dups: list[str] = []
    for name in columns:
        if name in seen and name not in dups:
            dups.append(name)
        seen.add(name)
    for name in dups:
        errors.append(
            FocusError(
                source,
                None,
                name,
                name,
                "each column name once",
                f"the header has column {name!r} {list(columns).count(name)} times",
            )
        )
    version = detect_version(columns, source)
    lower = {c.lower(): c for c in columns}
    for name in required_columns(version):
        if name not in seen:
            msg = f"mandatory FOCUS {version} column {name} is missing"
            if name.lower() in lower:
                msg += f" (found {lower[name.lower()]!r}; column names are case-sensitive)"
            errors.append(FocusError(source, None, name, None, f"a column named {name}", msg))
    if errors:
        raise FocusValidationError(
            errors, hint="Fix the header (or re-export the file in FOCUS format) and retry."
        )
    return version
