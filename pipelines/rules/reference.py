"""The seed tables the rules read, loaded once into a frozen ``Reference``.

Each table is a versioned CSV under ``pipelines/reference/`` (see its README for sources). A user may
point any table at their own file with the same columns: ``Reference.load({"cpt_codes": path})``.
The CMS practitioner MUE table ships as a seed (``mue_practitioner_2024-07-01.csv``, every code CMS
lists); a newer CMS file replaces it (``{"mue": path}``, the ``[rules] mue_table`` setting), read by
``load_mue_table`` whatever CMS's header spelling.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, replace
from pathlib import Path

import polars as pl

SEED_DIR = Path(__file__).resolve().parent.parent / "reference"
MUE_SEED = "mue_practitioner_2024-07-01.csv"

# table name -> (seed file, required columns)
TABLES: dict[str, tuple[str, tuple[str, ...]]] = {
    "cpt_codes": ("cpt_codes.csv", ("cpt_code", "timed")),
    "payer_methods": ("payer_methods.csv", ("payer_type", "method")),
    "payer_name_methods": ("payer_name_methods.csv", ("payer_name", "method")),
    "daily_limits": ("daily_limits.csv", ("cpt_code", "max_units_per_day")),
    "dx_97112_supportive": ("dx_97112_supportive.csv", ("icd10_prefix",)),
    "limits": ("limits.csv", ("name", "value")),
    "addon_codes": ("addon_codes.csv", ("addon_code", "primary_code", "primary_units_per_day")),
    "pfs_rvu": (
        "pprrvu_2024_97xxx.csv",
        ("hcpcs", "date_start", "date_end", "status_code", "non_facility_total", "conv_factor"),
    ),
}
# PFS status codes paid separately under the fee schedule (A active, R restricted, T paid only when no
# other service that day is); B bundled, I not valid for Medicare, N non-covered: no separate payment
PFS_PAID_STATUS = ("A", "R", "T")

METHODS = ("cms", "ama")
_TRUE = {"true", "t", "1", "yes", "y"}
_FALSE = {"false", "f", "0", "no", "n"}


class ReferenceError(ValueError):
    """A reference file is missing a column or holds a value the rules cannot use."""


def normalize_code(expr: pl.Expr) -> pl.Expr:
    """CPT/HCPCS code as compared everywhere: trimmed, upper case."""
    return expr.str.strip_chars().str.to_uppercase()


def normalize_dx(expr: pl.Expr) -> pl.Expr:
    """ICD-10-CM code as compared everywhere: trimmed, upper case, without the dot."""
    return expr.str.strip_chars().str.to_uppercase().str.replace_all(".", "", literal=True)


def _read_table(name: str, path: Path) -> pl.DataFrame:
    required = TABLES[name][1]
    try:
        frame = pl.read_csv(path, infer_schema=False)
    except (OSError, pl.exceptions.PolarsError) as exc:
        raise ReferenceError(f"reference table {name} ({path.name}) cannot be read: {exc}") from exc
    frame = frame.rename({c: c.strip().lower() for c in frame.columns})
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise ReferenceError(f"reference table {name} ({path.name}) lacks column(s): {', '.join(missing)}")
    return frame


def _parse_bool(frame: pl.DataFrame, column: str, table: str) -> pl.DataFrame:
    text = frame[column].str.strip_chars().str.to_lowercase()
    bad = text.filter(~text.is_in(list(_TRUE | _FALSE)) & text.is_not_null())
    if bad.len():
        raise ReferenceError(f"reference table {table}: column {column} must be true/false, got {bad[0]!r}")
    return frame.with_columns(text.is_in(list(_TRUE)).alias(column))


def _check_methods(frame: pl.DataFrame, table: str) -> pl.DataFrame:
    frame = frame.with_columns(pl.col("method").str.strip_chars().str.to_lowercase())
    bad = frame.filter(~pl.col("method").is_in(list(METHODS)))
    if bad.height:
        raise ReferenceError(f"reference table {table}: method must be cms or ama, got {bad['method'][0]!r}")
    return frame


def _prepare(name: str, frame: pl.DataFrame) -> pl.DataFrame:
    if name == "cpt_codes":
        frame = _parse_bool(frame, "timed", name).with_columns(normalize_code(pl.col("cpt_code")))
        return frame.unique("cpt_code", keep="last").sort("cpt_code")
    if name == "payer_methods":
        frame = _check_methods(frame, name)
        return frame.with_columns(pl.col("payer_type").str.strip_chars().str.to_lowercase())
    if name == "payer_name_methods":
        frame = _check_methods(frame, name)
        return frame.with_columns(pl.col("payer_name").str.strip_chars().str.to_lowercase())
    if name == "daily_limits":
        frame = frame.with_columns(
            normalize_code(pl.col("cpt_code")),
            pl.col("max_units_per_day").str.strip_chars().cast(pl.Int64),
        )
        if "mue_indicator" in frame.columns:
            frame = frame.with_columns(pl.col("mue_indicator").str.strip_chars().cast(pl.Int64))
        else:
            frame = frame.with_columns(pl.lit(None, pl.Int64).alias("mue_indicator"))
        if "source" not in frame.columns:
            frame = frame.with_columns(pl.lit(None, pl.String).alias("source"))
        return frame.select("cpt_code", "max_units_per_day", "mue_indicator", "source")
    if name == "dx_97112_supportive":
        return frame.with_columns(normalize_dx(pl.col("icd10_prefix")).alias("icd10_prefix")).filter(
            pl.col("icd10_prefix").str.len_chars() > 0
        )
    if name == "addon_codes":
        return frame.with_columns(
            normalize_code(pl.col("addon_code")),
            normalize_code(pl.col("primary_code")),
            pl.col("primary_units_per_day").str.strip_chars().cast(pl.Int64),
        )
    if name == "pfs_rvu":
        if "mod" in frame.columns:  # global service only: no professional / technical component rows
            frame = frame.filter(pl.col("mod").is_null() | (pl.col("mod").str.strip_chars() == ""))
        return (
            frame.select(
                normalize_code(pl.col("hcpcs")).alias("cpt_code"),
                pl.col("date_start").str.strip_chars().str.to_date(),
                pl.col("date_end").str.strip_chars().str.to_date(),
                pl.col("status_code").str.strip_chars().str.to_uppercase(),
                pl.col("non_facility_total").str.strip_chars().cast(pl.Float64),
                pl.col("conv_factor").str.strip_chars().cast(pl.Float64),
                (pl.col("source_file") if "source_file" in frame.columns else pl.lit(None, pl.String)).alias("release"),
            )
            .with_columns(
                pl.when(pl.col("status_code").is_in(PFS_PAID_STATUS))
                .then((pl.col("non_facility_total") * pl.col("conv_factor")).round(2))
                .otherwise(0.0)
                .alias("pfs_national")
            )
            .sort("cpt_code", "date_start")
        )
    if name == "limits":
        return frame.with_columns(pl.col("name").str.strip_chars(), pl.col("value").str.strip_chars().cast(pl.Float64))
    raise KeyError(name)


VOCABULARY = "documentation_vocabulary"


@dataclass(frozen=True, eq=False)
class Reference:
    """The seed tables as Polars frames (columns after loading):

    - ``cpt_codes``: cpt_code (str), timed (bool), description, kind. Claims Processing Manual ch. 5
      sec. 20.2 B: timed codes are billed in 15-minute units; untimed codes are billed as "1".
    - ``payer_methods``: payer_type, method ('cms' | 'ama'); ``payer_name_methods``: payer_name
      (lower case), method; a payer_name row wins over its payer_type row.
    - ``daily_limits``: cpt_code, max_units_per_day (int), mue_indicator (int, null = per date of
      service), source: limits for payers outside the MUE's scope (97112: 4, unitreview's
      default, equal to CMS's MUE for 97112).
    - ``mue``: CMS's practitioner MUE table: cpt_code, max_units_per_day (the MUE value),
      mue_indicator (MAI 1 line edit, 2 date-of-service policy edit, 3 date-of-service clinical edit),
      rationale, source.
    - ``dx_97112_supportive``: icd10_prefix (upper case, no dot), label (the ICD-10-CM category
      title), family, rationale, source.
    - ``limits``: name, value (float), unit, source.
    - ``addon_codes``: addon_code, primary_code, primary_units_per_day (int), source: a code billed per
      further period after its primary's first unit(s) (97130 after 97129).
    - ``pfs_rvu``: the Medicare Physician Fee Schedule's relative value units per code and release:
      cpt_code, date_start, date_end, status_code, non_facility_total (RVUs), conv_factor, release,
      pfs_national (RVUs x conversion factor, national: no locality adjustment; 0 for a code the
      schedule does not pay separately).
    """

    cpt_codes: pl.DataFrame
    payer_methods: pl.DataFrame
    payer_name_methods: pl.DataFrame
    daily_limits: pl.DataFrame
    dx_97112_supportive: pl.DataFrame
    limits: pl.DataFrame
    addon_codes: pl.DataFrame
    pfs_rvu: pl.DataFrame
    mue: pl.DataFrame
    documentation_vocabulary: Path | None = None  # a user's vocabulary TOML; None: the shipped seed

    @classmethod
    def load(cls, overrides: dict[str, Path] | None = None) -> Reference:
        """Read every seed CSV, replacing any table named in ``overrides`` by the user's file.

        Keys are the table names (``cpt_codes``, ``payer_methods``, ``payer_name_methods``,
        ``daily_limits``, ``dx_97112_supportive``, ``limits``, ``addon_codes``, ``pfs_rvu``) plus ``mue`` for a CMS MUE file and
        ``documentation_vocabulary`` for a note vocabulary TOML of the seed's structure (read here,
        so that a broken file is refused before any month is recomputed).
        """
        overrides = dict(overrides or {})
        unknown = set(overrides) - set(TABLES) - {"mue", VOCABULARY}
        if unknown:
            raise ReferenceError(f"unknown reference table(s): {', '.join(sorted(unknown))}")
        tables = {
            name: _prepare(name, _read_table(name, Path(overrides.get(name, SEED_DIR / seed))))
            for name, (seed, _) in TABLES.items()
        }
        vocabulary = overrides.get(VOCABULARY)
        if vocabulary is not None:
            from pipelines.notes.detector import load_vocabulary

            load_vocabulary(Path(vocabulary))  # raises VocabularyError with the file and the reason
        mue = load_mue_table(Path(overrides.get("mue") or SEED_DIR / MUE_SEED))
        return cls(**tables, mue=mue, documentation_vocabulary=Path(vocabulary) if vocabulary is not None else None)

    def with_mue(self, mue: pl.DataFrame) -> Reference:
        """This reference with another MUE table (``load_mue_table``'s columns)."""
        return replace(self, mue=mue)

    def timed_codes(self) -> list[str]:
        """Codes billed in 15-minute units (``timed`` true)."""
        return self.cpt_codes.filter(pl.col("timed"))["cpt_code"].to_list()

    def untimed_codes(self) -> list[str]:
        """Codes the reference marks untimed (``timed`` false): billed as 1 unit a service."""
        return self.cpt_codes.filter(~pl.col("timed"))["cpt_code"].to_list()

    def evaluation_codes(self) -> list[str]:
        """Evaluation and re-evaluation codes (``kind`` 'evaluation')."""
        if "kind" not in self.cpt_codes.columns:
            return []
        return self.cpt_codes.filter(pl.col("kind").str.strip_chars().str.to_lowercase() == "evaluation")[
            "cpt_code"
        ].to_list()

    def code_families(self) -> dict[str, str]:
        """Add-on code -> its primary code (97130 -> 97129): one timed service for the 8-minute rule."""
        return dict(zip(self.addon_codes["addon_code"], self.addon_codes["primary_code"], strict=True))

    def supportive_prefixes(self) -> list[str]:
        """ICD-10-CM prefixes (upper case, no dot) that support 97112."""
        return sorted(set(self.dx_97112_supportive["icd10_prefix"].to_list()))

    def limit(self, name: str) -> float:
        """A named value of ``limits.csv`` (e.g. ``impossible_day_ceiling_minutes``)."""
        row = self.limits.filter(pl.col("name") == name)
        if row.height == 0:
            raise ReferenceError(f"reference table limits has no row named {name}")
        return float(row["value"][-1])


# --- the CMS MUE table ---------------------------------------------------------------------


def _key(header: str) -> str:
    return re.sub(r"[^a-z0-9]", "", header.lower())


def _mue_columns(row: list[str]) -> tuple[int, int, int | None, int | None] | None:
    """Positions of (code, value, indicator, rationale) if ``row`` is an MUE header row, else None.

    Tolerates the published spellings: "HCPCS/CPT Code", "HCPCS/ CPT Code", "CPT Code", "Code";
    "Practitioner Services MUE Values", "Outpatient Hospital Services MUE Values", "MUE Value", "MUE";
    "MUE Adjudication Indicator", "Adjudication Indicator", "MAI"; "MUE Rationale"; and the seed's
    own hcpcs_code, mue_units, mue_mai, mue_rationale.
    """
    keys = [_key(h) for h in row]
    code = next(
        (i for i, k in enumerate(keys) if ("hcpcs" in k or "cpt" in k or k == "code") and "desc" not in k), None
    )
    value = next(
        (i for i, k in enumerate(keys) if ("muevalue" in k or k in {"mue", "mueunits"}) and "indicator" not in k), None
    )
    indicator = next(
        (i for i, k in enumerate(keys) if "indicator" in k or "adjudication" in k or k in {"mai", "muemai"}), None
    )
    rationale = next((i for i, k in enumerate(keys) if "rationale" in k), None)
    if code is None or value is None:
        return None
    return code, value, indicator, rationale


def _raw_rows(path: Path) -> list[list[str]]:
    if path.suffix.lower() in {".xlsx", ".xls"}:
        sheet = pl.read_excel(path, has_header=False, infer_schema_length=0)
        return [["" if v is None else str(v) for v in row] for row in sheet.iter_rows()]
    data = path.read_bytes()
    for encoding in ("utf-8-sig", "cp1252", "latin-1"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    dialect = csv.excel_tab if text.count("\t") > text.count(",") else csv.excel
    return list(csv.reader(io.StringIO(text), dialect))


def load_mue_table(path: Path) -> pl.DataFrame:
    """Read a CMS MUE file (CSV, tab-separated text or Excel) into the ``daily_limits`` columns and
    the rationale.

    An MUE is "the maximum UOS that a provider would reasonably report for a single beneficiary on a
    single date of service" (NGS Medicare, "Medically Unlikely Edits Billing and Processing"); its
    adjudication indicator (MAI) says whether it counts a claim line (1) or the date of service (2, 3).
    Copyright preamble lines before the header are skipped; the indicator keeps its leading digit
    ("3 Date of Service Edit: Clinical" -> 3). Returns cpt_code, max_units_per_day, mue_indicator,
    rationale, source.
    """
    path = Path(path)
    rows = _raw_rows(path)
    found = next(((i, p) for i, row in enumerate(rows[:200]) if (p := _mue_columns(row)) is not None), None)
    if found is None:
        raise ReferenceError(f"MUE file {path.name}: no header row with an HCPCS/CPT code and an MUE value column")
    start, (code_i, value_i, ind_i, why_i) = found
    body = [r for r in rows[start + 1 :] if len(r) > max(code_i, value_i) and r[code_i].strip()]

    def column(i: int | None) -> list[str | None]:
        return [r[i] if i is not None and len(r) > i else None for r in body]

    frame = pl.DataFrame(
        {"cpt_code": column(code_i), "value": column(value_i), "indicator": column(ind_i), "rationale": column(why_i)},
        schema={"cpt_code": pl.String, "value": pl.String, "indicator": pl.String, "rationale": pl.String},
    )
    return (
        frame.select(
            normalize_code(pl.col("cpt_code")).alias("cpt_code"),
            pl.col("value").str.extract(r"(\d+)", 1).cast(pl.Int64).alias("max_units_per_day"),
            pl.col("indicator").str.extract(r"^\s*([123])", 1).cast(pl.Int64).alias("mue_indicator"),
            pl.col("rationale").str.strip_chars(),
            pl.lit(f"CMS MUE table ({path.name})").alias("source"),
        )
        .filter(pl.col("max_units_per_day").is_not_null() & pl.col("cpt_code").str.contains(r"^[0-9A-Z]{5}$"))
        .unique("cpt_code", keep="first")
        .sort("cpt_code")
    )
