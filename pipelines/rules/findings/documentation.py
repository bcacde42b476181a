"""DOCUMENTATION: a day billing 97112 whose record does not show what 97112 needs.

Contract: "a day billing 97112 whose documentation lacks a functional deficit, measurable goals, the
response to treatment, or any skilled neuromuscular technique (from the flags, else from the note
text); the detail names what is missing. Not raised when the extract carries neither flags nor notes:
the summary says the check could not run". Pub. 100-02 ch. 15 sec. 220.3: the progress report
"provides justification for the medical necessity of treatment" with an "Assessment of improvement,
extent of progress (or lack thereof) toward each goal"; sec. 220.2: the services must be "of such a
level of complexity and sophistication or the condition of the patient shall be such that the services
required can be safely and effectively performed only by a therapist". The four elements as one test
(deficit, measurable goals, response, a named skilled technique such as PNF, biofeedback, perturbation
or unstable-surface training, core stabilization, tactile cueing) are unitreview's reading of these
sections (docs/rules.md, DOCUMENTATION).

Grain: patient-day with the therapist (patient_id, service_date, rendering_npi), for every such day
billing 97112 (units > 0; duplicate extras are DUPLICATE's). Its documentation is that of the visits
(claims) billing the 97112 lines:

- deficit, goals, response: the structured flag (``deficit_documented``, ``goals_documented``,
  ``response_documented``) where a line of those visits fills it (true when any line says true) —
  the flag takes precedence over the text; otherwise the note text (``note_text``, the visits'
  distinct notes) read by the detector ``pipelines.notes.detector`` with the vocabulary
  ``pipelines/reference/documentation_vocabulary.toml``; with neither, the element is not assessable;
- technique: no flag exists, so always the note text; with no note (e.g. a clinic exporting flags
  only) the technique is not assessable.

A finding is raised when at least one assessable element is missing; an element that is not
assessable is never a finding on its own (the detail says which were not assessable). units_over =
the day's 97112 units; amount_at_risk = those units at the price of the day's 97112 lines.

The detail names the missing elements and, for the elements the note shows, quotes the short span
the detector matched (at most ``notes.MAX_SPAN`` characters, only the matched vocabulary; the day's
patient id, long digit runs and dates inside it are masked). The note is PHI: the dashboard shows
these spans to auditors only, and the HTML report never shows details. Quoted spans sit between “ and
” (``SPAN_QUOTES``) so that a manager's view can withhold them. Patient identifiers never go into
the detail.

``documentation_coverage(lines)`` says whether the check could run and on how many patient-days.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from pipelines.notes import detector as notes
from pipelines.rules.findings._common import PATIENT_DAY_NPI, as_findings, at_risk, lines_claimed, plural, unit_price
from pipelines.rules.frame import canonical
from pipelines.rules.reference import Reference, normalize_code
from pipelines.rules.settings import RuleSettings

RULE_ID = "DOCUMENTATION"
CODE = "97112"
DAY = list(PATIENT_DAY_NPI)
FLAGS = {"deficit": "deficit_documented", "goals": "goals_documented", "response": "response_documented"}
ELEMENTS = notes.ELEMENTS
LABELS = notes.LABELS
SPAN_QUOTES = ("\u201c", "\u201d")  # “ ”: a quoted note span, and nothing else, sits between them
NOT_RUN_REASON = "the extracts carry neither documentation flags nor notes"
NOT_RUN_MESSAGE = f"{RULE_ID}: could not run \u2014 {NOT_RUN_REASON}"

# Element status on a patient-day.
FLAG_YES, FLAG_NO, NOTE_YES, NOTE_NO, NOT_ASSESSABLE = "flag_yes", "flag_no", "note_yes", "note_no", "na"
MISSING = (FLAG_NO, NOTE_NO)


def vocabulary_for(ref: Reference) -> notes.Vocabulary:
    """The detector's vocabulary: ``ref.documentation_vocabulary`` when the reference carries one (a
    ``Vocabulary`` or a path to a TOML file of the same structure), else the shipped seed."""
    given = getattr(ref, "documentation_vocabulary", None)
    if isinstance(given, notes.Vocabulary):
        return given
    if isinstance(given, (str, Path)):
        return notes.load_vocabulary(Path(given))
    return notes.load_vocabulary()


def documentation_sources(lines: pl.LazyFrame) -> pl.LazyFrame:
    """One row per patient-day billing 97112 (patient_id, service_date, rendering_npi): the three
    flags over the lines of its 97112 visits (true when any line says true, false when filled but
    never true, null when no line fills it) and ``note``, the visits' distinct non-empty notes
    (sorted, joined by a blank line; null when there is none)."""
    base = canonical(lines).with_columns(normalize_code(pl.col("cpt_code")).alias("cpt_code"))
    visits_112 = (
        base.filter((pl.col("cpt_code") == CODE) & (pl.col("units_billed") > 0)).select(*DAY, "claim_id").unique()
    )
    visit_lines = base.select(*DAY, "claim_id", *FLAGS.values(), "note_text").join(
        visits_112, on=[*DAY, "claim_id"], how="semi"
    )
    flags = visit_lines.group_by(DAY).agg(
        pl.when(pl.col(f).is_not_null().any()).then(pl.col(f).any()).alias(f) for f in FLAGS.values()
    )
    text = pl.col("note_text").str.strip_chars()
    day_notes = (
        visit_lines.select(*DAY, text.alias("note"))
        .filter(pl.col("note").str.len_chars() > 0)
        .unique()
        .group_by(DAY)
        .agg(pl.col("note").sort().str.join("\n\n"))
    )
    return flags.join(day_notes, on=DAY, how="left")


def quote_span(span: pl.Expr, patient_id: pl.Expr | None = None) -> pl.Expr:
    """A detected span as the detail quotes it: whitespace collapsed, the day's patient id, dates and
    runs of 5+ digits masked, quote marks made plain, at most ``notes.MAX_SPAN`` characters, between
    “ and ”."""
    s = span.str.replace_all(r"\s+", " ").str.strip_chars(" ;,:")
    if patient_id is not None:
        s = s.str.split(patient_id).list.join("[patient]")
    s = (
        s.str.replace_all(r"\b\d{1,2}[/-]\d{1,2}[/-]\d{2,4}\b", "[date]")
        .str.replace_all(r"\d{5,}", "#")
        .str.replace_all('[\u201c\u201d"]', "'")
    )
    s = (
        pl.when(s.str.len_chars() > notes.MAX_SPAN)
        .then(pl.concat_str([s.str.slice(0, notes.MAX_SPAN - 1), pl.lit("\u2026")]))
        .otherwise(s)
    )
    return pl.concat_str([pl.lit(SPAN_QUOTES[0]), s, pl.lit(SPAN_QUOTES[1])])


def _status(element: str, span: pl.Expr) -> pl.Expr:
    has_note = pl.col("note").is_not_null()
    from_note = pl.when(span.is_not_null()).then(pl.lit(NOTE_YES)).otherwise(pl.lit(NOTE_NO))
    if element not in FLAGS:
        return pl.when(has_note).then(from_note).otherwise(pl.lit(NOT_ASSESSABLE))
    flag = pl.col(FLAGS[element])
    return (
        pl.when(flag.is_not_null())
        .then(pl.when(flag).then(pl.lit(FLAG_YES)).otherwise(pl.lit(FLAG_NO)))
        .when(has_note)
        .then(from_note)
        .otherwise(pl.lit(NOT_ASSESSABLE))
    )


def _fragments(element: str) -> tuple[pl.Expr, pl.Expr, pl.Expr]:
    """(missing, shown, not assessable) text of one element; null where it is not in that group."""
    status, label = pl.col(f"_{element}"), LABELS[element]
    missing = (
        pl.when(status == FLAG_NO)
        .then(pl.lit(f"{label} ({FLAGS.get(element, '')} is false)"))
        .when(status == NOTE_NO)
        .then(pl.lit(f"{label} (none found in the note)"))
    )
    shown = (
        pl.when(status == FLAG_YES)
        .then(pl.lit(f"{label} (flag)"))
        .when(status == NOTE_YES)
        .then(pl.format(f"{label} (note {{}})", pl.col(f"_{element}_quote")))
    )
    why = "no note; no flag exists for it" if element not in FLAGS else "no flag, no note"
    not_assessable = pl.when(status == NOT_ASSESSABLE).then(pl.lit(f"{label} ({why})"))
    return missing, shown, not_assessable


def _section(title: str, parts: list[pl.Expr]) -> pl.Expr:
    joined = pl.concat_str(parts, separator=", ", ignore_nulls=True)
    return pl.when(joined.str.len_chars() > 0).then(pl.format(f" {title}{{}}.", joined)).otherwise(pl.lit(""))


def documentation(lines: pl.LazyFrame, units: pl.LazyFrame, ref: Reference, settings: RuleSettings) -> pl.LazyFrame:
    """DOCUMENTATION findings, one per patient-day (with its therapist) billing 97112 whose
    documentation lacks an assessable element."""
    vocab = vocabulary_for(ref)
    billed = (
        units.filter((pl.col("cpt_code") == CODE) & (pl.col("units_billed") > 0) & ~pl.col("duplicate_extra"))
        .group_by(DAY)
        .agg(pl.col("units_billed").sum().alias("units_over"), unit_price().alias("price"), lines_claimed())
    )
    days = billed.join(documentation_sources(lines), on=DAY, how="inner")
    days = days.with_columns(notes.masked_goals(pl.col("note"), vocab).alias("_note_goals_masked"))
    spans: dict[str, pl.Expr] = {}
    for element in ELEMENTS:
        shared = notes.uses_goal_mask(vocab, element)
        note = pl.col("_note_goals_masked" if shared else "note")
        # the text is read only for the elements no flag decides: no regex runs where a flag is filled
        read = note if element not in FLAGS else pl.when(pl.col(FLAGS[element]).is_null()).then(note)
        spans[element] = notes.masked(read, vocab, element, goals_done=shared).str.extract(
            vocab.elements[element].regex, 0
        )
    days = days.with_columns(spans[e].alias(f"_{e}_span") for e in ELEMENTS)  # each regex runs once
    days = days.with_columns(_status(e, pl.col(f"_{e}_span")).alias(f"_{e}") for e in ELEMENTS)
    flagged = days.filter(pl.any_horizontal(pl.col(f"_{e}").is_in(list(MISSING)) for e in ELEMENTS))
    flagged = flagged.with_columns(
        quote_span(pl.col(f"_{e}_span"), pl.col("patient_id")).alias(f"_{e}_quote") for e in ELEMENTS
    )
    groups = [_fragments(e) for e in ELEMENTS]
    missing = pl.concat_str([g[0] for g in groups], separator=", ", ignore_nulls=True)
    detail = pl.concat_str(
        [
            pl.format(
                "{} billed for {}; the documentation does not show: {}.",
                pl.lit(CODE),
                plural(pl.col("units_over"), "unit"),
                missing,
            ),
            _section("Shown: ", [g[1] for g in groups]),
            _section("Not assessable: ", [g[2] for g in groups]),
        ]
    )
    result = flagged.with_columns(detail.alias("detail"), at_risk(pl.col("units_over"), pl.col("price")))
    return as_findings(result, RULE_ID, settings.severity(RULE_ID), PATIENT_DAY_NPI)


def missing_elements(detail: pl.Expr) -> pl.Expr:
    """The element names (``notes.ELEMENTS``) a DOCUMENTATION finding's detail says are missing, as
    a list (for evaluation against an answer key)."""
    section = detail.str.extract(r"does not show: (.*?)\.(?: Shown:| Not assessable:|$)", 1)
    return pl.concat_list(
        [pl.when(section.str.contains(f"{LABELS[e]} (", literal=True)).then(pl.lit(e)) for e in ELEMENTS]
    ).list.drop_nulls()


COVERAGE_SCHEMA: dict[str, pl.DataType] = {
    "rule_id": pl.String(),
    "ran": pl.Boolean(),
    "patient_days_checked": pl.Int64(),
    "patient_days_not_assessable": pl.Int64(),
    "note": pl.String(),
}


COVERAGE_COUNTS = (
    "patient_days_97112",
    "patient_days_by_flags",
    "patient_days_by_notes",
    "patient_days_not_assessable",
    "patient_days_technique_not_assessable",
)


def coverage_counts_plan(lines: pl.LazyFrame | pl.DataFrame) -> pl.LazyFrame:
    """Per service month (``service_month``, its first day) the patient-days billing 97112 and how
    they could be checked (``COVERAGE_COUNTS``): by flags (at least one flag filled), by notes (no
    flag, a note), neither (not assessable), flags but no note (the technique cannot be read).
    A patient-day lies in one month, so months add up; the pipeline keeps them per month. Lazy, so
    that it can be collected with the findings (``pl.collect_all``), whose DOCUMENTATION rule reads
    the same ``documentation_sources``."""
    src = documentation_sources(lines.lazy())
    any_flag = pl.any_horizontal(pl.col(f).is_not_null() for f in FLAGS.values())
    has_note = pl.col("note").is_not_null()
    return (
        src.group_by(pl.col("service_date").dt.truncate("1mo").alias("service_month"))
        .agg(
            pl.len().alias("patient_days_97112"),
            any_flag.sum().alias("patient_days_by_flags"),
            (~any_flag & has_note).sum().alias("patient_days_by_notes"),
            (~any_flag & ~has_note).sum().alias("patient_days_not_assessable"),
            (any_flag & ~has_note).sum().alias("patient_days_technique_not_assessable"),
        )
        .with_columns(pl.col(c).cast(pl.Int64) for c in COVERAGE_COUNTS)
        .sort("service_month")
    )


def documentation_coverage_counts(lines: pl.LazyFrame | pl.DataFrame) -> pl.DataFrame:
    """``coverage_counts_plan`` collected."""
    return coverage_counts_plan(lines).collect()


def month_of_counts(counts: pl.DataFrame, month) -> pl.DataFrame:
    """One service month's row (``month``: its first day) of ``documentation_coverage_counts``;
    zeros when no patient-day of the month bills 97112."""
    counts = counts.filter(pl.col("service_month") == month)
    if counts.height:
        return counts
    return pl.DataFrame([{"service_month": month, **dict.fromkeys(COVERAGE_COUNTS, 0)}], schema=counts.schema)


def coverage_of_counts(counts: pl.DataFrame) -> dict:
    """``documentation_coverage`` from monthly ``documentation_coverage_counts`` (summed)."""
    total = {c: int(counts[c].sum() or 0) for c in COVERAGE_COUNTS}
    days, by_flags, by_notes = (
        total["patient_days_97112"],
        total["patient_days_by_flags"],
        total["patient_days_by_notes"],
    )
    not_assessable, no_technique = total["patient_days_not_assessable"], total["patient_days_technique_not_assessable"]
    checked = by_flags + by_notes
    ran = days == 0 or checked > 0
    if days == 0:
        text = "no patient-day billed 97112: nothing to check"
    elif not ran:
        text = NOT_RUN_REASON
    else:
        text = f"checked {checked:,} of {days:,} patient-days billing 97112 ({by_flags:,} with flags, {by_notes:,} from notes only)"
        if not_assessable:
            text += f"; {not_assessable:,} carried neither flags nor a note and were not assessable"
        if no_technique:
            text += f"; on {no_technique:,} with flags but no note the skilled technique could not be read"
    return {"rule_id": RULE_ID, "ran": ran, **total, "patient_days_checked": checked, "note": text}


def documentation_coverage(lines: pl.LazyFrame | pl.DataFrame) -> dict:
    """Whether the DOCUMENTATION rule could run on ``lines``, and on how many 97112 patient-days.

    Returns ``rule_id``, ``ran`` (false when patient-days bill 97112 but none of them carries a flag
    or a note: the extracts carry neither), ``patient_days_97112``, ``patient_days_checked`` (by flags
    or by notes), ``patient_days_by_flags`` (at least one flag filled), ``patient_days_by_notes`` (no
    flag, a note), ``patient_days_not_assessable`` (neither), ``patient_days_technique_not_assessable``
    (flags but no note: the technique cannot be read) and ``note``, one sentence for people.
    """
    return coverage_of_counts(documentation_coverage_counts(lines))


def coverage_row(coverage: dict) -> pl.DataFrame:
    """A ``documentation_coverage`` dict as one row of the ``rule_coverage`` table (``COVERAGE_SCHEMA``)."""
    return pl.DataFrame([{k: coverage[k] for k in COVERAGE_SCHEMA}], schema=COVERAGE_SCHEMA)


def documentation_coverage_frame(lines: pl.LazyFrame | pl.DataFrame) -> pl.DataFrame:
    """``documentation_coverage`` as one row of the ``rule_coverage`` table (``COVERAGE_SCHEMA``)."""
    return coverage_row(documentation_coverage(lines))
