"""DOCUMENTATION: what a 97112 day's record must show (deficit, measurable goals, response, skilled
technique), from the flags first and the note text otherwise; negations; coverage; PHI in details;
the vocabulary as reference data; precision and recall against a generated answer key."""

from __future__ import annotations

import datetime as dt
import tomllib

import polars as pl
import pytest

from pipelines.config import load_config
from pipelines.generate.evaluate import documentation_by_element
from pipelines.notes.detector import (
    DEFAULT_PATH,
    ELEMENTS,
    MAX_SPAN,
    VocabularyError,
    detect,
    highlight_segments,
    load_vocabulary,
    parse_vocabulary,
)
from pipelines.rules import Reference, RuleSettings, findings, line_units
from pipelines.rules.findings.documentation import (
    NOT_RUN_MESSAGE,
    documentation,
    documentation_coverage,
    documentation_coverage_frame,
    missing_elements,
)
from pipelines.rules.testing import DAY, NPI_A, NPI_B, claim_lines
from tests.reviews import SAMPLES, review

REF = Reference.load()
SETTINGS = RuleSettings()
VOCAB = load_vocabulary()
SECRET = "PHI-MRN-771234"
D, G, R, T = ELEMENTS

# One sentence per element (phrasings the generator does not use), and a note showing all four.
SHOWS = {
    D: "Pt presents with decreased dynamic balance and ataxic gait.",
    T: "Standing on airex with perturbations, gaze stabilization x1 viewing.",
    R: "Patient demonstrated improved stability, LOB reduced from 5 to 2.",
    G: "Goal: DGI 20/24 within 4 weeks.",
}
FULL = " ".join(SHOWS.values())


def without(*elements: str) -> str:
    return " ".join(s for e, s in SHOWS.items() if e not in elements)


def run(*rows: dict, settings: RuleSettings = SETTINGS, **defaults) -> pl.DataFrame:
    lines = claim_lines(*rows, **defaults)
    units = line_units(lines, REF, settings).collect().lazy()
    return documentation(lines, units, REF, settings).collect()


def day(note: str | None = None, **kw) -> dict:
    """A 97112 visit of 2 units (24 minutes, $33.50 a unit allowed) with the given note."""
    return {"cpt_code": "97112", "minutes": 24, "units_billed": 2, "allowed_amount": 67.0, "note_text": note, **kw}


def missing_of(frame: pl.DataFrame) -> list[list[str]]:
    return frame.select(missing_elements(pl.col("detail")).alias("m"))["m"].to_list()


def found_in(notes: list[str]) -> list[set[str]]:
    rows = pl.DataFrame({"n": notes}, schema={"n": pl.String}).select(**detect(pl.col("n"), VOCAB))
    return [{e for e, span in r.items() if span is not None} for r in rows.iter_rows(named=True)]


# --- each element, found and missed ------------------------------------------------------------


def test_a_fully_documented_note_raises_nothing():
    assert run(day(FULL)).height == 0


@pytest.mark.parametrize("element", ELEMENTS)
def test_each_element_missing_from_the_note_is_named(element):
    frame = run(day(without(element)))
    assert frame.height == 1 and missing_of(frame) == [[element]]
    detail = frame["detail"][0]
    assert detail.startswith("97112 billed for 2 units; the documentation does not show: ")
    assert "(none found in the note)" in detail
    assert detail.count("(note \u201c") == 3  # the others are shown, each with the span that was found


def test_two_missing_elements_and_what_the_note_shows():
    frame = run(day(without(G, T)))
    assert missing_of(frame) == [[G, T]]
    detail = frame["detail"][0]
    assert "Shown: functional deficit (note \u201cdecreased dynamic balance\u201d)" in detail
    assert "response to treatment (note \u201c" in detail


# Hand-written notes, none of them phrased like the generator's catalog: (note, elements shown).
HELD_OUT = [
    (
        "Pt c/o unsteadiness on stairs; Berg 41/56. Performed PNF D2 flexion patterns with manual resistance and "
        "rhythmic stabilization. Pt tolerated tx without incident. LTG: Berg >= 50/56 in 6 weeks.",
        {D, G, R, T},
    ),
    (
        "S: pt reports feeling steadier. O: FGA 18/30; difficulty with tandem walking. Tx: weight shifting on rocker "
        "board with tactile cues at hips; dual task walking. A: good response to treatment, decreased UE support "
        "needed. P: STG: FGA 22/30 in 3 wks.",
        {D, G, R, T},
    ),
    (
        "Hx of 3 falls in the last 6 months, fear of falling. Balance training on compliant surfaces w/ VC for upright "
        "trunk. Responded well, less sway in tandem. Pt will ambulate community distances without AD in 8 weeks "
        "(>= 1000 ft).",
        {D, G, R, T},
    ),
    (
        "Neuro re-ed for R hemiparesis s/p CVA: mirror therapy and task-specific training for reaching. Pt fatigued "
        "after 20 min. Goals: improve sitting balance to allow independent dressing in 4 wks; SLS R 5 s by 6 wks.",
        {D, G, R, T},
    ),
    (
        "pt w/ impared ballance and poor cordination, propriocepton decreased L foot. perturbaton training on foam. pt "
        "toleratd well. goal: SLS 15 s L in 4 wks.",
        {D, G, R, T},
    ),
    (
        "Denies dizziness; however, pt with decreased postural control in standing. Core stabilization in tall "
        "kneeling. Pt able to hold 30 s by end of session. LTG: independent with HEP, TUG < 13.5 s in 6 wks.",
        {D, G, R, T},
    ),
    (
        "Pt presents w/ poor proprioception R knee s/p ACL recon. Perturbation training on BOSU, agility ladder. Pt "
        "tolerated all activities. Continue per POC.",
        {D, R, T},
    ),
    (
        "Impaired standing balance, Berg 44/56. Pt performed sit to stands, marching and heel/toe raises at counter "
        "3x10. Pt tolerated session well. Goal: Berg 50/56 in 4 wks.",
        {D, G, R},
    ),
    (
        "Decreased coordination BLE. Frenkel exercises and PNF rhythmic stabilization. Goal: improve coordination for "
        "safe ambulation, TUG < 14 s in 4 wks. HEP issued.",
        {D, G, T},
    ),
    ("Pt seen for NMR. Tactile cueing for weight shift, balance beam walking. Tolerated well.", {R, T}),
    ("Ther ex: bike 8 min, LAQ 2x15, SLR 2x10. Pt tolerated well. Goal: improve strength.", {R}),
    ("Gait instability with narrow BOS noted. Treadmill walking 10 min. Goal: return to tennis.", {D}),
    (
        "Pt reports 1 fall last week. Static balance ex on firm surface, no perturbations today. HEP reviewed. "
        "STG (3 wks): SLS 10 s bilaterally.",
        {D, G},
    ),
    (
        "Assessment: deficits in anticipatory postural control, Berg 39/56, TUG 15 s. Plan: progress to unstable "
        "surfaces as tolerated. Goal: Berg 46/56 in 6 wks.",
        {D, G},
    ),
    (
        "DGI 12/24, high risk for falls. Balance ex: tandem stance, SLS holds at counter. Progressing toward goals. "
        "LTG: DGI 19/24 by discharge.",
        {D, G, R},
    ),
    (
        "Pt w/ L foot drop and decreased foot clearance. NMES to anterior tibialis. Pt tolerated e-stim without "
        "adverse reaction.",
        {D, R},
    ),
    (
        "Pt is a 72 y/o s/p L TKA with impaired single limb stance L, 3 sec. Activities: SLS on Airex with ball "
        "toss, tandem walking with head turns. Pt required 2 rest breaks, reported mild knee pain 3/10 after. "
        "LTG: SLS L 10 sec in 6 weeks to reduce fall risk.",
        {D, G, R, T},
    ),
    (
        "Parkinson's dx: shuffling gait, freezing at doorways. LSVT BIG protocol, large amplitude stepping with "
        "metronome cues. Gait speed improved from 0.6 to 0.8 m/s. Goal: 10MWT > 1.0 m/s in 8 wks.",
        {D, G, R, T},
    ),
    (
        "MS exacerbation, poor trunk control in sitting and standing. Seated reaching on therapy ball, rhythmic "
        "stabilization at trunk. Pt fatigued quickly, needed seated rest. Goals set per POC.",
        {D, R, T},
    ),
    (
        "Chronic ankle instability R, multiple sprains this yr. Ankle disc training and perturbations in SLS. "
        "Tolerated without pain. Goal: return to basketball w/o giving way in 6 wks, Y-balance anterior reach 70 "
        "cm.",
        {D, G, R, T},
    ),
    (
        "BPPV R posterior canal resolved last visit. Today pt denies vertigo and dizziness. Habituation ex and "
        "gaze stabilization progressed to standing. No symptoms provoked. Goal: DHI < 16 in 2 wks.",
        {G, R, T},
    ),
    (
        "TBI, impaired motor planning and sequencing. Task specific training for transfers with verbal cues for "
        "sequencing. Pt needed fewer cues on trial 3. STG: independent sit to stand x5 in 2 weeks.",
        {D, G, R, T},
    ),
    ("Pt ambulated 200 ft with RW, no LOB. Ther ex for LE strengthening. Pt tolerated well.", {R}),
    (
        "s/p CVA w/ R neglect and decreased weight bearing R LE. Mirror therapy, WB shifts with tactile cues to R"
        " hip. Pt demonstrated increased WB on R by end of session. Goal: symmetrical stance 50/50 within 4 "
        "weeks.",
        {D, G, R, T},
    ),
    (
        "Peripheral neuropathy, decreased sensation B feet, Romberg positive. Balance training on foam eyes "
        "closed. Pt anxious but completed all sets. Goal: improve balance.",
        {D, R, T},
    ),
    (
        "Cerebellar ataxia, dysmetria B UE. Frenkel ex, weighted UE PNF patterns. Pt progressing slowly. Goal: "
        "finger to nose without dysmetria in 6 wks, 9HPT < 40 s.",
        {D, G, R, T},
    ),
    ("Pt reports feeling off balance in the shower. Berg 45/56. Instructed in HEP. Goal: Berg 52/56 in 6 wks.", {D, G}),
    (
        "Reactive balance training: pushes and pulls at hips while standing on firm and compliant surfaces. Pt "
        "with delayed stepping response. Responded with quicker steps by end. Goal: recover from mod perturbation"
        " with 1 step in 4 wks.",
        {D, G, R, T},
    ),
    ("No deficits noted today. Pt performed HEP independently.", set()),
    (
        "Gait: wide based, decreased cadence, unable to tandem walk. Gait training w/ visual targets and VC for "
        "step length. Step length increased by end of session. LTG: ambulate 500 ft independently on uneven "
        "terrain by discharge.",
        {D, G, R, T},
    ),
    (
        "Vestibular hypofunction L. VOR x1 horizontal 2 min, progressed to busy background. Mild symptoms, "
        "resolved in 1 min. Goal: DGI 22/24 in 4 wks.",
        {D, G, R, T},
    ),
    (
        "Pt s/p R THA, Trendelenburg gait and poor SLS control R. NMR: SLS on half foam roll with UE "
        "perturbations. Pt tolerated with min c/o fatigue. STG: SLS R 15 s in 3 wks.",
        {D, G, R, T},
    ),
    (
        "Pt c/o imbalance when turning. TUG 14 s with AD. Tandem and semi-tandem stance, head turns. Pt more "
        "confident by end of visit. Goal: TUG < 12 s in 4 wks.",
        {D, G, R},
    ),
    (
        "Pt with hx of stroke, L hemiparesis, impaired motor control L UE. Constraint-induced movement therapy "
        "and task practice. Pt engaged, improved grasp release. Goal: 10 blocks on BBT L in 6 wks.",
        {D, G, R, T},
    ),
    ("Pt denies falls. Balance WNL per testing. Discussed D/C.", set()),
    (
        "Coordination deficits R LE (heel to shin dysmetric). PNF D1 patterns with approximation. Patient "
        "responded well to facilitation. Goal: improve coordination.",
        {D, R, T},
    ),
    (
        "Pt unable to maintain balance on compliant surface w/ eyes closed (mCTSIB cond 4 fall). Sensory "
        "integration training on foam w/ eyes closed. Improved time on condition 4 from 8 to 20 s.",
        {D, R, T},
    ),
    (
        "Dx: R ankle sprain grade II. Proprioceptive training on wobble board, SLS on BOSU. Tolerated without "
        "increase in pain. Goals: SLS on R on BOSU 30 s in 4 wks; return to soccer in 8 wks.",
        {G, R, T},
    ),
    (
        "Pt's gait antalgic, decreased stance time L. Gait training with VC for heel strike and weight shift. "
        "Goal: normalize gait pattern.",
        {D, T},
    ),
    (
        "Pt w/ Parkinson's. Big stepping, external cueing with floor lines. Improved step length with cues. Goal:"
        " TUG < 13 s in 8 wks.",
        {G, R, T},
    ),
    (
        "Knee OA, LE weakness. SLR, clamshells, bridges 3x10. Pt tolerated well. Goal: improve strength to 5/5 in"
        " 6 wks.",
        {G, R},
    ),
]


@pytest.mark.parametrize("note, shown", HELD_OUT, ids=[f"note{i}" for i in range(len(HELD_OUT))])
def test_hand_written_notes(note, shown):
    assert found_in([note]) == [shown]
    frame = run(day(note))
    assert (missing_of(frame) or [[]]) == [[e for e in ELEMENTS if e not in shown]]


def test_goals_need_a_measure_and_a_time_frame():
    vague = [
        "Goal: improve balance.",
        "Goal: Berg 48/56.",
        "Goals per POC.",
        "Goal: improve balance in 4 wks.",
        "Goal: independent community ambulation.",
    ]
    measurable = [
        "Goal: Berg 48/56 in 4 wks.",
        "increase Berg to 48/56 in 4 weeks",
        "STG (2 wks): SLS 10 s on L.",
        "LTG: DGI >= 19/24 by discharge.",
        "In 4 wks pt will ambulate 150 ft with SBA.",
    ]
    assert [G in f for f in found_in(vague)] == [False] * len(vague)
    assert [G in f for f in found_in(measurable)] == [True] * len(measurable)


def test_abbreviations_and_cheap_typos():
    notes = [
        "LOB x3 w/ narrow BOS",
        "SLS 3 s R",
        "DGI 14/24",
        "TUG 17 s",
        "impaird balnce",
        "decr propriocepton",
        "poor cordination",
    ]
    assert all(D in f for f in found_in(notes)), found_in(notes)
    assert [R in f for f in found_in(["pt toleratd tx", "Pt tolerted well", "pt tollerated"])] == [True] * 3
    assert [T in f for f in found_in(["PNF D1 ext", "perturbaton on foam", "gaze stabilizaton", "NMR: PNF"])] == [
        True
    ] * 4
    # NMR (the code's name) and ther ex are not a skilled technique
    assert found_in(["NMR 2 units.", "Ther ex 3x10."]) == [set(), set()]


# --- negations -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "negated",
    [
        "No loss of balance.",
        "Denies dizziness.",
        "Pt denies dizziness or vertigo.",
        "No LOB noted today.",
        "No falls or near falls since last visit.",
        "Pt without complaints of dizziness or imbalance.",
        "Pt is not unsteady.",
        "Negative for vertigo.",
        "No c/o dizziness w/ head turns.",
    ],
)
def test_a_negated_problem_is_not_a_deficit(negated):
    assert D not in found_in([negated])[0]
    frame = run(day(f"{negated} {without(D)}"))
    assert missing_of(frame) == [[D]]


def test_a_negation_does_not_hide_the_real_deficit_next_to_it():
    assert D in found_in(["Denies dizziness; however, pt with decreased postural control in standing."])[0]
    assert D in found_in(["No falls, but impaired tandem stance."])[0]
    assert D in found_in(["No LOB at home. Berg 40/56."])[0]


def test_a_negated_technique_is_not_a_technique():
    assert T not in found_in(["Static standing w/o perturbation."])[0]
    assert T not in found_in(["No biofeedback available today."])[0]
    assert T in found_in(["No LOB during perturbation training."])[0]  # the negation was about LOB


def test_plans_and_goals_are_not_responses_deficits_or_techniques():
    assert found_in(["Continue POC, progress as tolerated."]) == [set()]
    assert found_in(["Goal: improve balance to reduce fall risk."]) == [set()]
    assert found_in(["Plan: progress to foam and perturbations next visit."]) == [set()]
    assert found_in(["Pt will ambulate on uneven surfaces w/o LOB in 6 wks (300 ft)."]) == [{G}]


# --- flags and their precedence ------------------------------------------------------------------

ALL_TRUE = {"deficit_documented": True, "goals_documented": True, "response_documented": True}


def test_flags_take_precedence_over_the_note():
    # the flag says documented though the note lacks goals: no finding
    assert run(day(without(G), **ALL_TRUE)).height == 0
    # the flag says not documented though the note shows goals: a finding, from the flag
    frame = run(day(FULL, **{**ALL_TRUE, "goals_documented": False}))
    assert missing_of(frame) == [[G]]
    assert "measurable goals (goals_documented is false)" in frame["detail"][0]
    assert "functional deficit (flag)" in frame["detail"][0]
    assert "skilled technique (note \u201c" in frame["detail"][0]  # no flag exists: from the text


def test_an_element_without_its_flag_is_read_from_the_note():
    flags = {"deficit_documented": True, "goals_documented": True}  # no response flag
    assert run(day(FULL, **flags)).height == 0
    frame = run(day(without(R), **flags))
    assert missing_of(frame) == [[R]] and "response to treatment (none found in the note)" in frame["detail"][0]


def test_flags_without_a_note_leave_the_technique_not_assessable():
    assert run(day(None, **ALL_TRUE)).height == 0  # not a finding on the technique alone
    frame = run(day(None, **{**ALL_TRUE, "deficit_documented": False}))
    assert missing_of(frame) == [[D]]
    assert frame["detail"][0].endswith("Not assessable: skilled technique (no note; no flag exists for it).")


def test_a_flag_true_on_any_line_of_the_visits_counts():
    frame = run(
        day(None, claim_id="A", **{**ALL_TRUE, "goals_documented": None}),
        {"claim_id": "A", "cpt_code": "97110", "minutes": 10, "units_billed": 1, **ALL_TRUE},
    )
    assert frame.height == 0
    frame = run(
        day(None, **{**ALL_TRUE, "goals_documented": False}),
        {"cpt_code": "97110", "minutes": 10, "units_billed": 1, **ALL_TRUE},
    )
    assert frame.height == 0  # same claim: its 97110 line says goals are documented


def test_the_notes_of_the_days_97112_visits_are_read_together():
    rows = [
        day(without(G, T), claim_id="AM"),
        day(SHOWS[G] + " " + SHOWS[T], claim_id="PM", minutes=12, units_billed=1),
    ]
    assert run(*rows).height == 0
    # a note on another therapist's visit, or on a visit without 97112, is not this day's documentation
    other = {"cpt_code": "97110", "minutes": 30, "units_billed": 2, "claim_id": "X", "note_text": FULL}
    assert missing_of(run(day(without(G), claim_id="A"), other)) == [[G]]
    assert missing_of(run(day(without(G), claim_id="A"), day(FULL, claim_id="B", rendering_npi=NPI_B))) == [[G]]


# --- which days, how much, how severe ---------------------------------------------------------------


def test_grain_units_amount_and_severity():
    frame = run(day(without(T)), {"cpt_code": "97110", "minutes": 23, "units_billed": 2, "allowed_amount": 58.0})
    row = frame.row(0, named=True)
    assert (row["patient_id"], row["service_date"], row["rendering_npi"]) == ("PAT-0001", DAY, NPI_A)
    assert row["claim_id"] is None and row["line_number"] is None
    assert (row["units_over"], row["amount_at_risk"], row["severity"]) == (2, 67.0, "medium")
    low = run(day(without(T)), settings=RuleSettings(severity_overrides={"DOCUMENTATION": "low"}))
    assert low["severity"].to_list() == ["low"]


def test_only_days_billing_97112_are_checked():
    assert run({"cpt_code": "97110", "minutes": 30, "units_billed": 2, "note_text": "Ther ex."}).height == 0
    assert run(day("Ther ex.", units_billed=0)).height == 0  # documented, not billed
    # a duplicate re-bill's units are DUPLICATE's: the day is counted once, with the original's units
    frame = run(day(without(G), claim_id="A"), day(without(G), claim_id="B"))
    assert frame.height == 1 and frame["units_over"].to_list() == [2]


def test_the_whole_review_includes_documentation():
    lines = claim_lines(day(without(R)))
    units = line_units(lines, REF, SETTINGS).collect().lazy()
    assert findings(lines, units, REF, SETTINGS).collect()["rule_id"].to_list() == ["DOCUMENTATION"]


# --- coverage: no run without flags and notes ------------------------------------------------------


def test_no_finding_and_no_run_without_flags_or_notes():
    lines = claim_lines(day(None), day(None, patient_id="PAT-0002"))
    assert run(day(None), day(None, patient_id="PAT-0002")).height == 0
    coverage = documentation_coverage(lines)
    assert coverage["ran"] is False and coverage["patient_days_97112"] == 2
    assert coverage["patient_days_checked"] == 0 and coverage["patient_days_not_assessable"] == 2
    assert (
        NOT_RUN_MESSAGE
        == "DOCUMENTATION: could not run \u2014 the extracts carry neither documentation flags nor notes"
    )
    assert coverage["note"] in NOT_RUN_MESSAGE
    row = documentation_coverage_frame(lines).row(0, named=True)
    assert row == {
        "rule_id": "DOCUMENTATION",
        "ran": False,
        "patient_days_checked": 0,
        "patient_days_not_assessable": 2,
        "note": coverage["note"],
    }
    # the optional columns absent altogether: the same
    bare = lines.select(
        "claim_id",
        "line_number",
        "patient_id",
        "rendering_npi",
        "service_date",
        "cpt_code",
        "units_billed",
        "payer_type",
    )
    assert documentation_coverage(bare)["ran"] is False


def test_coverage_counts_days_by_flags_by_notes_and_not_assessable():
    lines = claim_lines(
        day(FULL, patient_id="P1"),
        day(None, patient_id="P2", **ALL_TRUE),
        day(FULL, patient_id="P3", **ALL_TRUE),
        day("   ", patient_id="P4"),  # a blank note is no note
        {"cpt_code": "97110", "minutes": 30, "units_billed": 2, "patient_id": "P5", "note_text": FULL},
    )
    c = documentation_coverage(lines)
    assert c["ran"] is True
    assert (
        c["patient_days_97112"],
        c["patient_days_checked"],
        c["patient_days_by_flags"],
        c["patient_days_by_notes"],
        c["patient_days_not_assessable"],
        c["patient_days_technique_not_assessable"],
    ) == (4, 3, 2, 1, 1, 1)
    assert "checked 3 of 4" in c["note"]
    assert documentation_coverage(claim_lines({"cpt_code": "97110", "minutes": 30, "units_billed": 2}))["ran"] is True


# --- PHI ----------------------------------------------------------------------------------------------


def test_details_never_quote_a_patient_id_dates_or_more_than_a_short_span():
    note = (
        f"{SECRET} seen 03/04/2024, MRN 99887766. Impaired {SECRET} balance noted. Secret-word-zebra. "
        "PNF diagonals. Pt tolerated well, more than usual in the prior session with the family watching."
    )
    frame = run(day(note, patient_id=SECRET))
    detail = frame["detail"][0]
    assert SECRET not in detail and "771234" not in detail and "99887766" not in detail
    assert "zebra" not in detail and "family" not in detail  # only the matched vocabulary is quoted
    assert "\u201cImpaired [patient] balance\u201d" in detail
    spans = [s.split("\u201d")[0] for s in detail.split("\u201c")[1:]]
    assert spans and all(len(s) <= MAX_SPAN for s in spans)
    long_goal = "Goal: " + "SLS 20 s bilaterally on foam with eyes closed and head turns " * 2 + "in 4 wks."
    frame = run(day(long_goal + " " + without(G, R)))
    spans = [s.split("\u201d")[0] for s in frame["detail"][0].split("\u201c")[1:]]
    assert spans and all(len(s) <= MAX_SPAN for s in spans) and any(s.endswith("\u2026") for s in spans)
    dated = run(day("Goal (set 01/15/2024): Berg 48/56 in 4 wks. " + without(G, R)))
    assert (
        "01/15/2024" not in dated["detail"][0]
        and "\u201cGoal (set [date]): Berg 48/56 in 4 wks\u201d" in dated["detail"][0]
    )


def test_quote_marks_in_a_note_cannot_fake_a_span():
    frame = run(day("Goal: \u201cSLS\u201d 20 s in 4 wks. " + without(G, T)))
    detail = frame["detail"][0]
    assert "\u201cGoal: 'SLS' 20 s in 4 wks\u201d" in detail
    assert detail.count("\u201c") == detail.count("\u201d") == 3  # deficit, goals, response


# --- the vocabulary as reference data ---------------------------------------------------------------


def test_every_pattern_matches_its_examples_and_no_element_its_counter_examples():
    for name, element in VOCAB.elements.items():
        examples = [x for p in element.patterns for x in p.examples]
        assert examples, name
        assert all(name in f for f in found_in(examples)), (name, list(zip(examples, found_in(examples), strict=True)))
        assert all(name not in f for f in found_in(list(element.counter_examples))), name
        for p in element.patterns:
            assert p.rationale and p.name


def test_the_vocabulary_is_versioned_sourced_and_listed():
    data = tomllib.loads(DEFAULT_PATH.read_text())
    assert data["version"] and len(data["sources"]) >= 2
    assert VOCAB.version == data["version"] and set(VOCAB.elements) == set(ELEMENTS)
    readme = (DEFAULT_PATH.parent / "README.md").read_text()
    assert "`documentation_vocabulary.toml`" in readme


def test_a_broken_vocabulary_is_refused_with_its_reason(tmp_path):
    data = tomllib.loads(DEFAULT_PATH.read_text())
    del data["elements"]["goals"]
    with pytest.raises(VocabularyError, match=r"elements\.goals"):
        parse_vocabulary(data)
    data = tomllib.loads(DEFAULT_PATH.read_text())
    data["elements"]["response"]["patterns"][0]["pattern"] = "(?<=pt )tolerated"  # look-behind: not supported
    with pytest.raises(VocabularyError, match="does not compile"):
        parse_vocabulary(data)
    data = tomllib.loads(DEFAULT_PATH.read_text())
    data["elements"]["deficit"]["masks"] = ["nonsense"]
    with pytest.raises(VocabularyError, match="unknown mask"):
        parse_vocabulary(data)


def test_a_users_vocabulary_replaces_the_seed(tmp_path):
    text = DEFAULT_PATH.read_text().replace('version = "2026-11 (v1)"', 'version = "clinic-1"', 1)
    text += (
        "\n[[elements.technique.patterns]]\nname = \"clinic drill\"\npattern = '\\bzig[- ]?zag drills?'\n"
        'rationale = "the clinic\'s name for reactive stepping"\nexamples = ["zigzag drill"]\n'
    )
    path = tmp_path / "vocab.toml"
    path.write_text(text)
    note = without(T) + " Zig-zag drills x5."
    assert missing_of(run(day(note))) == [[T]]

    # as the configuration gives it: [rules] reference_files = { documentation_vocabulary = "..." }
    config = tmp_path / "c.toml"
    config.write_text(f'[rules]\nreference_files = {{ documentation_vocabulary = "{path}" }}\n')
    ref = load_config(config).reference()
    lines = claim_lines(day(note))
    units = line_units(lines, ref, SETTINGS).collect().lazy()
    assert documentation(lines, units, ref, SETTINGS).collect().height == 0


@pytest.mark.slow
def test_a_broken_vocabulary_file_stops_the_review_before_anything_is_read(tmp_path):
    broken = tmp_path / "vocab.toml"
    broken.write_text('version = "clinic-1"\n')
    config = tmp_path / "c.toml"
    config.write_text(f'[rules]\nreference_files = {{ documentation_vocabulary = "{broken}" }}\n')
    warehouse = tmp_path / "w.duckdb"
    result = review(SAMPLES, warehouse, "--config", str(config))
    assert result.exit_code == 2
    assert (
        "reference files" in result.output and "vocab.toml" in result.output and "[elements.deficit]" in result.output
    )
    assert not warehouse.exists()


def test_highlight_segments_mark_each_detected_span_in_place():
    segments = highlight_segments(FULL)
    assert "".join(text for text, _ in segments) == FULL
    marked = {element for _, element in segments if element}
    assert marked == set(ELEMENTS)
    assert ("decreased dynamic balance", D) in segments
    assert highlight_segments("") == [] and highlight_segments("Ther ex.") == [("Ther ex.", None)]


# --- the answer key: precision and recall per missing element ------------------------------------------


def test_precision_and_recall_per_missing_element_on_a_generated_extract():
    from pipelines.generate.extract import generate_months

    gen = generate_months(60_000, 97112, start_month="2025-03", months=2, today=dt.date(2026, 1, 1))
    months = list(gen.months)
    lines = pl.concat([m.lines for m in months]).lazy()
    key = pl.concat([m.key for m in months]).with_columns(pl.col("service_date").str.to_date())
    units = line_units(lines, REF, SETTINGS).collect().lazy()
    found = documentation(lines, units, REF, SETTINGS).collect()
    table = documentation_by_element(found, key)
    assert table.filter(pl.col("element") == "any")["planted"].item() >= 60
    assert table.filter(pl.col("planted") == 0).height == 0  # every element is planted
    assert table.filter((pl.col("precision") < 0.95) | (pl.col("recall") < 0.95)).height == 0, table


def test_missing_elements_reads_back_what_the_detail_says():
    details = pl.Series(
        "detail",
        [
            "97112 billed for 1 unit; the documentation does not show: measurable goals (goals_documented is false), "
            "skilled technique (none found in the note). Shown: functional deficit (note \u201cgait instability\u201d).",
            "97112 billed for 2 units; the documentation does not show: functional deficit (none found in the note).",
            None,
        ],
    )
    assert pl.select(missing_elements(pl.lit(details))).to_series().to_list() == [[G, T], [D], []]


# --- provider scores ------------------------------------------------------------------------------------


def test_provider_scores_gain_the_documentation_rate():
    from pipelines.scores import compute_scores

    rows = []
    for n, npi in enumerate((NPI_A, NPI_B)):
        for d in range(10):
            note = without(G) if (npi == NPI_A and d % 2 == 0) else FULL
            rows.append(
                day(
                    note,
                    claim_id=f"{npi}-{d}",
                    rendering_npi=npi,
                    patient_id=f"P{n}-{d % 4}",
                    service_date=DAY + dt.timedelta(days=d),
                )
            )
    lines = claim_lines(*rows)
    units = line_units(lines, REF, SETTINGS).collect()
    found = findings(lines, units.lazy(), REF, SETTINGS).collect()
    assert set(found["rule_id"]) == {"DOCUMENTATION"} and found.height == 5
    scores = compute_scores(lines.collect(), units, found)
    whole = scores.scores.filter(pl.col("period") == "all")
    rate = dict(zip(whole["rendering_npi"], whole["rate_documentation"], strict=True))
    assert rate[NPI_A] == pytest.approx(0.5) and rate[NPI_B] == 0.0  # findings per patient-day
    assert "rate_documentation" in set(scores.metrics["metric"])
