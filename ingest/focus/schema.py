"""FOCUS column specifications per release (1.0-1.4) and the canonical table shape.

Built from the CC-BY-4.0 FOCUS specification files in ``ingest/focus/spec/`` (see
``spec/PROVENANCE.md``). Headroom stores every billing record in the canonical
FOCUS 1.4 shape (the newest supported release), :data:`CANONICAL_SCHEMA`:

* Decimal columns (costs, prices, quantities) -> ``float64`` in the billing currency
  (costs, prices) or the column's unit (quantities);
* Date/Time columns -> ``timestamp('us', tz='UTC')``; a timestamp written without a zone
  is taken to be UTC;
* everything else -> ``string``; ``Tags`` and ``SkuPriceDetails`` hold a normalised JSON
  object (keys sorted, compact separators) or null;
* one extra column :data:`EXTENSIONS_COLUMN` (``x_Extensions``): a JSON object of every
  provider ``x_*`` column and every non-FOCUS column of the row (values as strings, null
  values omitted), or null when the row has none.

Columns FOCUS 1.3 deprecated and 1.4 removed (``ProviderName``, ``PublisherName``) are
mapped to their replacements on the way in (:mod:`ingest.focus.versions`), and back when
an older release's shape is asked for.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pyarrow as pa

from .errors import FocusError, FocusValidationError, NotFocusError, UnsupportedVersionError

SPEC_DIR = Path(__file__).resolve().parent / "spec"
VERSIONS: tuple[str, ...] = ("1.0", "1.1", "1.2", "1.3", "1.4")
NEWEST_VERSION = VERSIONS[-1]
CANONICAL_VERSION = NEWEST_VERSION
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
    deprecated_in: str = ""  # release that deprecated the column ("" = not deprecated)
    replaced_by: str = ""  # its replacement column, if FOCUS names one

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

    def required_in(self, version: str) -> bool:
        """Mandatory in ``version`` (a deprecated column no longer is)."""
        deprecated = bool(self.deprecated_in) and _key(version) >= _key(self.deprecated_in)
        return self.required and not deprecated

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
    parents: tuple[str, ...] = ()  # ServiceSubcategory: each value's ServiceCategory


def _key(version: str) -> tuple[int, ...]:
    """``"1.10"`` -> ``(1, 10)``, for ordering release numbers."""
    return tuple(int(p) for p in version.split("."))


def _read_column_list(version: str) -> tuple[str, ...]:
    path = SPEC_DIR / f"focus_columns_v{version}.txt"
    lines = path.read_text(encoding="utf-8").splitlines()
    return tuple(s.strip() for s in lines if s.strip() and not s.startswith("#"))


@cache
def all_column_specs() -> dict[str, ColumnSpec]:
    """Every FOCUS 1.0-1.4 cost-and-usage column by name, from ``focus_columns_by_version.csv``."""
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
                deprecated_in=rec["deprecated_in"].strip(),
                replaced_by=rec["replaced_by"].strip(),
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
    return tuple(c.name for c in columns_for(version) if c.required_in(version))


@cache
def allowed_values(version: str) -> dict[str, AllowedValues]:
    """Closed value lists of ``version`` by column name."""
    _check_version(version)
    found: dict[str, tuple[list[str], list[str], str]] = {}
    with open(SPEC_DIR / "allowed_values.csv", newline="", encoding="utf-8") as f:
        for rec in csv.DictReader(f):
            if rec["version"] == version:
                vals, parents, _ = found.setdefault(rec["column_id"], ([], [], rec["severity"]))
                vals.append(rec["value"])
                parents.append(rec["parent"])
    return {
        col: AllowedValues(col, tuple(v), sev, tuple(p) if any(p) else ())
        for col, (v, p, sev) in found.items()
    }


def _check_version(version: str) -> None:
    if version not in VERSIONS:
        raise ValueError(f"unknown FOCUS version {version!r}; expected one of {VERSIONS}")


def _canonical_schema() -> pa.Schema:
    fields = [pa.field(c.name, c.arrow_type, nullable=True) for c in columns_for(CANONICAL_VERSION)]
    fields.append(pa.field(EXTENSIONS_COLUMN, pa.string(), nullable=True))
    return pa.schema(fields)


#: Every FOCUS 1.4 column (spec order) plus ``x_Extensions``.
CANONICAL_SCHEMA: pa.Schema = _canonical_schema()
CANONICAL_COLUMNS: tuple[str, ...] = tuple(CANONICAL_SCHEMA.names)


def is_extension_column(name: str) -> bool:
    """True for columns kept in ``x_Extensions``: provider ``x_*`` and non-FOCUS columns."""
    return name not in all_column_specs()


def added_columns(version: str) -> frozenset[str]:
    """Columns ``version`` added to the release before it (all columns for 1.0)."""
    i = VERSIONS.index(version)
    cols = {c.name for c in columns_for(version)}
    return frozenset(cols - ({c.name for c in columns_for(VERSIONS[i - 1])} if i else set()))


#: Columns that FOCUS 1.3 deprecated and 1.4 removed.
REMOVED_IN_1_4: frozenset[str] = frozenset({"ProviderName", "PublisherName"})


def check_declared_version(declared: str, source: str) -> str:
    """A version the file declares (e.g. Parquet metadata ``FocusVersion``), checked.

    Raises :class:`UnsupportedVersionError` naming it when it is newer than
    :data:`NEWEST_VERSION` or not a FOCUS release number at all."""
    text = declared.strip().lstrip("vV")
    parts = text.split(".")
    try:
        number = tuple(int(p) for p in parts[:2])
    except ValueError:
        number = ()
    if len(number) != 2:
        raise UnsupportedVersionError(
            source,
            declared,
            f"the file declares FOCUS version {declared!r}, which is not a "
            "FOCUS release number such as 1.4",
        )
    version = f"{number[0]}.{number[1]}"
    if number > _key(NEWEST_VERSION):
        raise UnsupportedVersionError(
            source,
            version,
            f"the file is FOCUS {version}, newer than FOCUS "
            f"{NEWEST_VERSION}, the newest release Headroom supports",
        )
    if version not in VERSIONS:
        raise UnsupportedVersionError(
            source,
            version,
            f"the file declares FOCUS {version}; Headroom reads FOCUS "
            f"{VERSIONS[0]} to {NEWEST_VERSION}",
        )
    return version


def detect_version(
    columns: list[str] | tuple[str, ...], source: str = "<columns>", declared: str | None = None
) -> str:
    """FOCUS release of a cost-and-usage file from its column names: ``'1.0'`` .. ``'1.4'``.

    A version the file declares (``declared``) wins once checked by
    :func:`check_declared_version`. Otherwise the newest release whose added columns appear
    wins, and a file that carries ``ServiceProviderName`` without the deprecated
    ``ProviderName``/``PublisherName`` is 1.4 (the release that removed them). A file that
    omits every optional column of its release reads as an older one, which normalises to
    the same canonical shape. Raises :class:`NotFocusError` when fewer than half of the
    FOCUS 1.0 mandatory columns (or their 1.4 replacements) are present.
    """
    present = set(columns)
    core = required_columns("1.0")
    specs = all_column_specs()
    found = [c for c in core if c in present or specs[c].replaced_by in present]
    if len(found) < MIN_FOCUS_SHARE * len(core):
        raise _not_focus(columns, core, len(found), source)
    if declared:
        return check_declared_version(declared, source)
    if added_columns("1.4") & present:
        return "1.4"
    if "ServiceProviderName" in present and not REMOVED_IN_1_4 & present:
        return "1.4"
    for version in reversed(VERSIONS[1:-1]):
        if added_columns(version) & present:
            return version
    return VERSIONS[0]


def _not_focus(
    columns: list[str] | tuple[str, ...], core: tuple[str, ...], found: int, source: str
) -> NotFocusError:
    # The first line of a file that is not FOCUS may be anything (a KEY=secret line of an
    # .env file): name only FOCUS columns, never the text that was read.
    lower = {c.lower() for c in columns}
    case_hint = sum(c.lower() in lower for c in core) >= MIN_FOCUS_SHARE * len(core)
    known = [c for c in all_column_specs() if c in set(columns)]
    shown = ", ".join(known[:8]) + (", ..." if len(known) > 8 else "")
    message = (
        f"not a FOCUS billing file: only {found} of the {len(core)} mandatory "
        f"FOCUS 1.0 columns are present; its first line has {len(columns)} field"
        f"{'s' if len(columns) != 1 else ''}, FOCUS columns among them: {shown or 'none'}"
    )
    if case_hint:
        message += "; FOCUS column names are case-sensitive (e.g. 'BilledCost')"
    elif any(c.startswith(("lineItem/", "line_item_")) for c in columns):
        message += "; it looks like an AWS Cost and Usage Report (use an AWS CUR account instead)"
    return NotFocusError(
        [
            FocusError(
                source,
                None,
                None,
                None,
                "a FOCUS 1.0-1.4 export with columns such as "
                "BilledCost, ChargePeriodStart, BillingCurrency (or a FOCUS Contract "
                "Commitment, Billing Period or Invoice Detail dataset)",
                message,
            )
        ],
        hint="Export the billing data in FOCUS format (AWS Data Exports 'FOCUS', "
        "Azure Cost Management 'FOCUS cost', GCP FOCUS BigQuery view) and retry.",
    )


def check_header(
    columns: list[str] | tuple[str, ...], source: str, declared: str | None = None
) -> str:
    """Check a file's header; return its FOCUS version (``declared``: see :func:`detect_version`).

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
    version = detect_version(columns, source, declared)
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
