"""Row validation of the input contract v1 (``docs/contract/claims-extract.md``).

The schema checks the extract's text as delivered: a value either parses into its contract type and
meets its rule, or the row goes to the quarantine with every reason it failed. Nothing is coerced:
text is only trimmed (a blank cell is an empty value), a payer type is matched case-insensitively, and
codes are compared in upper case. Validated rows are then typed by the same parsers (``typed``), which
can no longer fail. Ingestion uses ``validate_typed``, which gives the same rows and reasons parsing
each value once.
"""

from __future__ import annotations

import datetime as dt

import dataframely as dy
import polars as pl

from pipelines.ingest.columns import CANONICAL, PAYER_TYPES

EARLIEST_SERVICE_DATE = dt.date(2000, 1, 1)

_TRUE = ["true", "t", "yes", "y", "1"]
_FALSE = ["false", "f", "no", "n", "0"]


# -- parsers: text -> contract type, null where the text is not of that type ---------------------


def _date(col: str) -> pl.Expr:
    """ISO YYYY-MM-DD or US MM/DD/YYYY (a spreadsheet date cell reads as 'YYYY-MM-DD 00:00:00')."""
    text = pl.col(col).str.replace(r"^(\d{4}-\d{2}-\d{2})[ T]00:00(:00(\.0+)?)?$", "$1")
    return pl.coalesce(
        text.str.strptime(pl.Date, "%Y-%m-%d", strict=False),
        text.str.strptime(pl.Date, "%m/%d/%Y", strict=False),
    )


def _timestamp(col: str) -> pl.Expr:
    """YYYY-MM-DDTHH:MM[:SS] or YYYY-MM-DD HH:MM[:SS] (fractions of a second from typed files)."""
    text = pl.col(col).str.replace("T", " ", literal=True).str.replace(r"\.\d+$", "")
    return pl.coalesce(
        text.str.strptime(pl.Datetime("us"), "%Y-%m-%d %H:%M:%S", strict=False),
        text.str.strptime(pl.Datetime("us"), "%Y-%m-%d %H:%M", strict=False),
    )


def _integer(col: str) -> pl.Expr:
    """A whole number, also as typed files write it ('3.0')."""
    return pl.col(col).str.replace(r"\.0+$", "").str.to_integer(strict=False)


def _decimal(col: str) -> pl.Expr:
    """Dollars as a plain decimal number ('125', '125.50'); no currency signs or separators."""
    text = pl.col(col)
    return pl.when(text.str.contains(r"^-?\d+(\.\d+)?$")).then(text.cast(pl.Float64, strict=False))


def _boolean(col: str) -> pl.Expr:
    text = pl.col(col).str.to_lowercase()
    return pl.when(text.is_in(_TRUE)).then(True).when(text.is_in(_FALSE)).then(False)


def _payer_type(col: str) -> pl.Expr:
    return pl.col(col).str.to_lowercase().str.replace_all(r"[\s\-]+", "_")


def _upper(col: str) -> pl.Expr:
    return pl.col(col).str.to_uppercase()


PARSERS: dict[str, object] = {
    "line_number": _integer,
    "service_date": _date,
    "cpt_code": _upper,
    "units_billed": _integer,
    "payer_type": _payer_type,
    "minutes": _integer,
    "total_timed_minutes": _integer,
    "modifiers": _upper,
    "diagnosis_codes": _upper,
    "charge_amount": _decimal,
    "allowed_amount": _decimal,
    "paid_amount": _decimal,
    "visit_start": _timestamp,
    "visit_end": _timestamp,
    "deficit_documented": _boolean,
    "goals_documented": _boolean,
    "response_documented": _boolean,
    "justification_documented": _boolean,
    "claim_frequency": _integer,
}


def parsed(col: str) -> pl.Expr:
    """The column's text parsed into its contract type (null where it does not parse)."""
    parser = PARSERS.get(col)
    return parser(col) if parser else pl.col(col)


def _valid_npi(col: str) -> pl.Expr:
    """NPI check digit: Luhn over the 10 digits prefixed with 80840 (1234567893 is valid)."""
    digits = [pl.col(col).str.slice(i, 1).cast(pl.Int32, strict=False) for i in range(10)]
    total = pl.lit(24, pl.Int32)  # the Luhn sum of the prefix 80840 with 10 digits to follow
    for i in range(9):
        if i % 2 == 0:  # counted from the check digit, these positions are doubled
            doubled = digits[i] * 2
            total = total + pl.when(doubled > 9).then(doubled - 9).otherwise(doubled)
        else:
            total = total + digits[i]
    return pl.col(col).is_null() | ((10 - total % 10) % 10 == digits[9])


_MODIFIERS = r"^[0-9A-Za-z]{2}([;,\s]+[0-9A-Za-z]{2}){0,3}$"
_DIAGNOSES = (
    r"^[;\s]*[A-Za-z][0-9][0-9A-Za-z](\.?[0-9A-Za-z]{1,4})?([;\s]+([A-Za-z][0-9][0-9A-Za-z](\.?[0-9A-Za-z]{1,4})?)?)*$"
)


class ClaimLineText(dy.Schema):
    """One claims-extract row as text, with every rule of the input contract v1."""

    source_row = dy.Int64(primary_key=True)
    claim_id = dy.String(nullable=False)
    line_number = dy.String(nullable=False)
    patient_id = dy.String(nullable=False)
    rendering_npi = dy.String(nullable=False, regex=r"^\d{10}$")
    service_date = dy.String(nullable=False)
    cpt_code = dy.String(nullable=False, regex=r"^([0-9]{5}|[A-Za-z][0-9]{4})$")
    units_billed = dy.String(nullable=False)
    payer_type = dy.String(nullable=False)
    minutes = dy.String(nullable=True)
    total_timed_minutes = dy.String(nullable=True)
    billing_npi = dy.String(nullable=True, regex=r"^\d{10}$")
    modifiers = dy.String(nullable=True, regex=_MODIFIERS)
    diagnosis_codes = dy.String(nullable=True, regex=_DIAGNOSES)
    payer_name = dy.String(nullable=True)
    charge_amount = dy.String(nullable=True)
    allowed_amount = dy.String(nullable=True)
    paid_amount = dy.String(nullable=True)
    visit_start = dy.String(nullable=True)
    visit_end = dy.String(nullable=True)
    provider_specialty = dy.String(nullable=True)
    provider_name = dy.String(nullable=True)
    clinic_name = dy.String(nullable=True)
    deficit_documented = dy.String(nullable=True)
    goals_documented = dy.String(nullable=True)
    response_documented = dy.String(nullable=True)
    note_text = dy.String(nullable=True)
    justification_documented = dy.String(nullable=True)
    claim_frequency = dy.String(nullable=True, regex=r"^[178]$")
    original_claim_id = dy.String(nullable=True)

    # The rules read a column's parsed value and an NPI's check digit verdict through these two
    # class methods: here they parse the text; ``PreparsedClaimLine`` reads them from columns
    # computed beforehand (once per distinct value), with the same rules.
    @classmethod
    def parsed_value(cls, col: str) -> pl.Expr:
        """The column's text parsed into its contract type (null where it does not parse)."""
        return parsed(col)

    @classmethod
    def npi_check_digit(cls, col: str) -> pl.Expr:
        """True where the NPI's check digit is right (or the value is missing)."""
        return _valid_npi(col)

    @classmethod
    def _unparsed(cls, col: str) -> pl.Expr:
        """True where a value is present but is not of the column's type."""
        return pl.col(col).is_not_null() & cls.parsed_value(col).is_null()

    @classmethod
    def _in_range(cls, col: str, low: float, high: float | None = None) -> pl.Expr:
        value = cls.parsed_value(col)
        ok = value >= low if high is None else value.is_between(low, high)
        return value.is_null() | ok

    @dy.rule()
    def line_number_format(cls) -> pl.Expr:
        return ~cls._unparsed("line_number")

    @dy.rule()
    def line_number_min(cls) -> pl.Expr:
        return cls._in_range("line_number", 1)

    @dy.rule()
    def rendering_npi_check_digit(cls) -> pl.Expr:
        return ~pl.col("rendering_npi").str.contains(r"^\d{10}$") | cls.npi_check_digit("rendering_npi")

    @dy.rule()
    def billing_npi_check_digit(cls) -> pl.Expr:
        return ~pl.col("billing_npi").str.contains(r"^\d{10}$").fill_null(False) | cls.npi_check_digit("billing_npi")

    @dy.rule()
    def service_date_format(cls) -> pl.Expr:
        return ~cls._unparsed("service_date")

    @dy.rule()
    def service_date_range(cls) -> pl.Expr:
        date = cls.parsed_value("service_date")
        return date.is_null() | date.is_between(EARLIEST_SERVICE_DATE, dt.date.today())

    @dy.rule()
    def units_billed_format(cls) -> pl.Expr:
        return ~cls._unparsed("units_billed")

    @dy.rule()
    def units_billed_min(cls) -> pl.Expr:
        return cls._in_range("units_billed", 0)

    @dy.rule()
    def payer_type_known(cls) -> pl.Expr:
        return pl.col("payer_type").is_null() | cls.parsed_value("payer_type").is_in(list(PAYER_TYPES))

    @dy.rule()
    def minutes_format(cls) -> pl.Expr:
        return ~cls._unparsed("minutes")

    @dy.rule()
    def minutes_range(cls) -> pl.Expr:
        return cls._in_range("minutes", 0, 720)

    @dy.rule()
    def total_timed_minutes_format(cls) -> pl.Expr:
        return ~cls._unparsed("total_timed_minutes")

    @dy.rule()
    def total_timed_minutes_range(cls) -> pl.Expr:
        return cls._in_range("total_timed_minutes", 0, 1440)

    @dy.rule()
    def amounts_format(cls) -> pl.Expr:
        return ~(cls._unparsed("charge_amount") | cls._unparsed("allowed_amount") | cls._unparsed("paid_amount"))

    @dy.rule()
    def amounts_min(cls) -> pl.Expr:
        return cls._in_range("charge_amount", 0) & cls._in_range("allowed_amount", 0) & cls._in_range("paid_amount", 0)

    @dy.rule()
    def visit_times_format(cls) -> pl.Expr:
        return ~(cls._unparsed("visit_start") | cls._unparsed("visit_end"))

    @dy.rule()
    def visit_end_after_start(cls) -> pl.Expr:
        start, end = cls.parsed_value("visit_start"), cls.parsed_value("visit_end")
        return start.is_null() | end.is_null() | ((end > start) & (end.dt.date() == start.dt.date()))

    @dy.rule()
    def flags_format(cls) -> pl.Expr:
        flags = [
            "deficit_documented",
            "goals_documented",
            "response_documented",
            "justification_documented",
        ]
        return ~pl.any_horizontal([cls._unparsed(f) for f in flags])


# Each failed rule in the words the quarantine shows. Messages never quote the value (it may be PHI).
REASONS: dict[str, str] = {
    **{
        f"{col}|nullability": f"{col}: required value missing"
        for col in [
            "claim_id",
            "line_number",
            "patient_id",
            "rendering_npi",
            "service_date",
            "cpt_code",
            "units_billed",
            "payer_type",
        ]
    },
    "primary_key": "source_row: repeated (reader error)",
    "source_row|nullability": "source_row: missing (reader error)",
    "rendering_npi|regex": "rendering_npi: not 10 digits",
    "billing_npi|regex": "billing_npi: not 10 digits",
    "cpt_code|regex": "cpt_code: not a CPT/HCPCS code (5 digits, or a letter and 4 digits)",
    "modifiers|regex": "modifiers: not up to four 2-character modifiers",
    "diagnosis_codes|regex": "diagnosis_codes: not ICD-10-CM codes separated by ';'",
    "line_number_format": "line_number: not a whole number",
    "line_number_min": "line_number: below 1",
    "rendering_npi_check_digit": "rendering_npi: check digit invalid",
    "billing_npi_check_digit": "billing_npi: check digit invalid",
    "service_date_format": "service_date: not a date (YYYY-MM-DD or MM/DD/YYYY)",
    "service_date_range": "service_date: in the future or before 2000-01-01",
    "units_billed_format": "units_billed: not a whole number",
    "units_billed_min": "units_billed: below 0",
    "payer_type_known": "payer_type: not one of " + ", ".join(PAYER_TYPES),
    "minutes_format": "minutes: not a whole number",
    "minutes_range": "minutes: outside 0..720",
    "total_timed_minutes_format": "total_timed_minutes: not a whole number",
    "total_timed_minutes_range": "total_timed_minutes: outside 0..1440",
    "amounts_format": "amount: charge, allowed or paid amount not a decimal number",
    "amounts_min": "amount: charge, allowed or paid amount below 0",
    "visit_times_format": "visit_start/visit_end: not a timestamp (YYYY-MM-DD HH:MM[:SS])",
    "visit_end_after_start": "visit_end: not after visit_start on the same day",
    "flags_format": "documentation flag: not true/false",
    "claim_frequency|regex": "claim_frequency: not 1, 7 or 8 (X12 claim frequency: original, replacement, void)",
}


def conform(rows: pl.DataFrame, renames: dict[str, str]) -> pl.DataFrame:
    """Canonical column names, trimmed text (blank -> empty), absent optional columns as empty."""
    missing = [c for c in CANONICAL if c not in renames.values()]
    return rows.select(
        "source_row",
        *[_conformed(pl.col(h)).alias(c) for h, c in renames.items()],
        *[pl.lit(None, pl.String).alias(c) for c in missing],
    )


def _conformed(text: pl.Expr) -> pl.Expr:
    """Trimmed text, blank -> empty."""
    return text.str.strip_chars().replace("", None)


def validate(text: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Split conformed text rows into (valid text rows, invalid rows with ``reasons``)."""
    return _filter(ClaimLineText, text)


def _filter(schema: type[ClaimLineText], frame: pl.DataFrame, **collect: object) -> tuple[pl.DataFrame, pl.DataFrame]:
    valid, failure = schema.filter(frame, **collect)
    details = failure.details()
    rule_columns = [c for c in details.columns if c not in schema.column_names()]
    unknown = set(rule_columns) - set(REASONS)
    if unknown:  # a schema rule without words would quarantine rows with no reason: a bug
        raise RuntimeError(f"validation rules without a reason text: {sorted(unknown)}")
    reasons = (
        pl.concat_list(
            pl.when(pl.col(rule) == "invalid").then(pl.lit(REASONS[rule])) for rule in rule_columns
        ).list.drop_nulls()
        if rule_columns
        else pl.lit([], pl.List(pl.String))
    )
    invalid = details.select("source_row", reasons.alias("reasons"))
    return valid, invalid


def typed(valid: pl.DataFrame) -> pl.DataFrame:
    """Validated text rows in the contract's types (every parse succeeds by construction)."""
    return valid.select(
        "source_row",
        *[parsed(col).cast(dtype).alias(col) for col, dtype in CANONICAL.items()],
    )


# -- the same validation, parsing each value once ---------------------------------------------------
#
# ``validate`` then ``typed`` parse every value twice (the rules parse the text, ``typed`` parses the
# valid rows again), row by row. ``validate_typed`` gives the same rows and reasons: it conforms and
# parses each column's values, and computes the NPI check digit verdicts, once per *distinct* value
# (an extract repeats its dates, times, codes and NPIs on many rows), runs ClaimLineText's own rules
# through dataframely on those values (``PreparsedClaimLine``), and takes the typed rows from the same
# values. Conforming and every parser are functions of the one value they read, so computing them once
# per distinct value and looking the result up gives exactly what computing them on every row gives.

_NPI_COLUMNS = ("rendering_npi", "billing_npi")

# derived column -> (text column it is computed from, the expression computing it)
DERIVED: dict[str, tuple[str, pl.Expr]] = {
    **{f"{col}:parsed": (col, parsed(col)) for col in PARSERS},
    **{f"{col}:check_digit": (col, _valid_npi(col)) for col in _NPI_COLUMNS},
}
_PARSED = {col: f"{col}:parsed" for col in PARSERS}
_CHECK_DIGIT = {col: f"{col}:check_digit" for col in _NPI_COLUMNS}


def _preparsed_value(cls: type, col: str) -> pl.Expr:
    return pl.col(_PARSED[col]) if col in _PARSED else pl.col(col)


def _preparsed_check_digit(cls: type, col: str) -> pl.Expr:
    return pl.col(_CHECK_DIGIT[col])


# ClaimLineText with the derived columns, whose rules (the same rules, inherited) read the parsed
# values and check digit verdicts from them instead of parsing the text.
PreparsedClaimLine: type[ClaimLineText] = type(
    "PreparsedClaimLine",
    (ClaimLineText,),
    {
        "__module__": __name__,
        "__doc__": "ClaimLineText's columns and rules, with every parsed value computed beforehand.",
        **{name.replace(":", "__"): dy.Any(alias=name) for name in DERIVED},
        "parsed_value": classmethod(_preparsed_value),
        "npi_check_digit": classmethod(_preparsed_check_digit),
    },
)

_DERIVED_FROM: dict[str, dict[str, pl.Expr]] = {}
for _name, (_source, _expr) in DERIVED.items():
    _DERIVED_FROM.setdefault(_source, {})[_name] = _expr

# A column whose distinct values are at most this share of its rows is conformed and parsed per
# distinct value; other columns value by value.
_DISTINCT_SHARE = 0.25


def _hashes_distinct(hashes: pl.Series) -> bool:
    return hashes.n_unique() == hashes.len()


def conform_derived(rows: pl.DataFrame, renames: dict[str, str]) -> pl.DataFrame:
    """``conform(rows, renames)`` with every DERIVED column.

    A column that DERIVED columns are computed from is, where its values repeat, conformed and
    parsed once per distinct raw value and the results looked up for every row (by the value's hash
    when no two of its distinct values share one); where conforming changes none of its distinct
    values (no value to trim, none blank) the column is taken as read, without a copy.
    """
    header = {c: h for h, c in renames.items()}
    by_value = [c for c in _DERIVED_FROM if c in header] if rows.height else []
    distinct = dict(
        zip(
            by_value,
            pl.collect_all([rows.lazy().select(pl.col(header[c]).unique().alias(c)) for c in by_value]),
            strict=True,
        )
    )
    text: dict[str, pl.Expr] = {}
    looked_up: dict[str, pl.Expr] = {}
    per_row: dict[str, pl.Expr] = {}  # computed on the conformed text, row by row
    for col in [*renames.values(), *[c for c in CANONICAL if c not in header]]:
        derived = _DERIVED_FROM.get(col, {})
        values = distinct.get(col)
        if col not in header:
            text[col] = pl.lit(None, pl.String)
        elif values is None or values.height > _DISTINCT_SHARE * rows.height:
            text[col] = _conformed(pl.col(header[col]))
        else:
            raw = pl.col(header[col])
            table = values.select(
                pl.col(col).alias("raw"), pl.col(col).hash().alias("hash"), _conformed(pl.col(col)).alias(col)
            ).with_columns(expr.alias(name) for name, expr in derived.items())
            unchanged = table.get_column("raw").eq_missing(table.get_column(col)).all()
            text[col] = raw if unchanged else _conformed(raw)
            # a row's hash names its distinct value exactly when no two distinct values share one
            key, keys = (raw.hash(), table["hash"]) if _hashes_distinct(table["hash"]) else (raw, table["raw"])
            looked_up.update(
                (name, key.replace_strict(keys, table[name], return_dtype=table.schema[name])) for name in derived
            )
            continue
        per_row.update(derived)
    frame = rows.select(
        "source_row",
        *[expr.alias(col) for col, expr in text.items()],
        *[expr.alias(name) for name, expr in looked_up.items()],
    )
    return frame.with_columns(expr.alias(name) for name, expr in per_row.items()) if per_row else frame


def validate_typed(rows: pl.DataFrame, renames: dict[str, str]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``typed`` and ``validate`` of ``conform(rows, renames)`` in one: (valid rows in the contract's
    types, invalid rows with ``reasons``), each value parsed once."""
    # the in-memory engine returns the rows in one chunk, which DuckDB inserts faster than many
    valid, invalid = _filter(PreparsedClaimLine, conform_derived(rows, renames), engine="in-memory")
    lines = valid.select(
        "source_row",
        *[
            (pl.col(_PARSED[col]) if col in _PARSED else pl.col(col)).cast(dtype).alias(col)
            for col, dtype in CANONICAL.items()
        ],
    )
    return lines, invalid
