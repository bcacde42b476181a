"""What the synthetic clinics bill: codes, minutes, fees, diagnoses, payers, names and note phrases.

Timed/untimed status, payer methods, the 97112 daily limit, the impossible-day ceiling and the
supportive 97112 diagnosis prefixes are read from ``pipelines/reference/*.csv`` so that generated
data and the rules engine share one truth; the rest is plausible colour (fees roughly the 2025
Medicare physician fee schedule, national, per unit).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

REFERENCE_DIR = Path(__file__).resolve().parent.parent / "reference"

# --- codes ------------------------------------------------------------------------------------

# Timed (15-minute) codes the clinics use, in the column order of the weight/minute tables.
TIMED_CODES = ("97110", "97112", "97116", "97140", "97530", "97535", "97035", "97032", "97760", "97533")
I97112 = TIMED_CODES.index("97112")
I97140 = TIMED_CODES.index("97140")
I97530 = TIMED_CODES.index("97530")

# Relative frequency of each timed code per discipline (row 0 PT, row 1 OT).
TIMED_WEIGHTS = np.array(
    [
        [30, 25, 8, 20, 15, 2, 3, 2, 0, 0],
        [20, 5, 0, 10, 30, 15, 0, 0, 5, 2],
    ],
    dtype=np.float64,
)
# Documented minutes per line, inclusive range (97112 has its own ranges below).
MINUTES_LO = np.array([8, 8, 8, 8, 8, 8, 8, 8, 8, 8], dtype=np.int64)
MINUTES_HI = np.array([38, 22, 23, 25, 38, 30, 12, 15, 25, 30], dtype=np.int64)
M97112_PEER = ((8, 22), (23, 30))  # peers: mostly one unit, sometimes two
M97112_HIGH = (38, 60)  # planted high-97112 providers: 3-4 units, within the daily limit
M97112_DAILY_LIMIT = (75, 90)  # DAILY_LIMIT plant: 5-6 units that the minutes support

EVAL_PT = ("97161", "97162", "97163")
EVAL_OT = ("97165", "97166", "97167")
EVAL_P = (0.35, 0.45, 0.20)
REEVAL = ("97164", "97168")  # PT, OT
GROUP = "97150"
HOT_PACK = "97010"
ESTIM_CMS = "G0283"  # unattended e-stim as Medicare wants it
ESTIM = "97014"
PARAFFIN = "97018"
UNTIMED_CODES = (*EVAL_PT, *EVAL_OT, *REEVAL, GROUP, HOT_PACK, ESTIM_CMS, ESTIM, PARAFFIN)

# Every code the generator writes; a line's code is an index into this tuple.
ALL_CODES = (*TIMED_CODES, *UNTIMED_CODES)
CODE_INDEX = {c: i for i, c in enumerate(ALL_CODES)}

# Medicare-like allowed amount per unit (dollars); 97010 is bundled (0) for CMS payers.
FEE = {
    "97110": 29.0,
    "97112": 33.5,
    "97116": 29.5,
    "97140": 27.0,
    "97530": 35.5,
    "97535": 32.0,
    "97035": 13.5,
    "97032": 18.0,
    "97760": 40.0,
    "97533": 28.0,
    "97161": 100.5,
    "97162": 100.5,
    "97163": 100.5,
    "97164": 68.0,
    "97165": 102.0,
    "97166": 102.0,
    "97167": 102.0,
    "97168": 68.0,
    "97150": 18.0,
    "97010": 12.0,
    "G0283": 11.0,
    "97014": 11.0,
    "97018": 6.5,
}
FEE_ARRAY = np.array([FEE[c] for c in ALL_CODES])

# --- payers -------------------------------------------------------------------------------------

PAYERS = ("medicare", "medicare_advantage", "medicaid", "commercial", "workers_comp", "tricare")
PAYER_P = np.array([0.38, 0.17, 0.12, 0.27, 0.03, 0.03])
PAYER_NAMES = {
    "medicare": (
        "Medicare Part B",
        "Medicare - Novitas JL",
        "Medicare - Noridian JF",
        "Medicare - Palmetto JM",
        "Medicare - NGS J6",
    ),
    "medicare_advantage": (
        "Humana Medicare Advantage",
        "UnitedHealthcare Medicare Advantage",
        "Aetna Medicare Advantage",
        "Wellcare",
        "BCBS Medicare Advantage",
    ),
    "medicaid": ("State Medicaid FFS", "Molina Healthcare Medicaid", "Centene Medicaid", "Amerigroup Medicaid"),
    "commercial": (
        "Blue Cross Blue Shield",
        "Aetna",
        "Cigna",
        "UnitedHealthcare",
        "Humana Commercial",
        "Kaiser Permanente",
    ),
    "workers_comp": ("Liberty Mutual WC", "Travelers WC", "The Hartford WC", "State Fund WC"),
    "tricare": ("TRICARE East", "TRICARE West"),
}
PAYER_NAME_LIST = tuple(n for p in PAYERS for n in PAYER_NAMES[p])
PAYER_NAME_OFFSET = np.cumsum([0] + [len(PAYER_NAMES[p]) for p in PAYERS])[:-1]
PAYER_NAME_COUNT = np.array([len(PAYER_NAMES[p]) for p in PAYERS])
ALLOWED_MULT = np.array([1.0, 0.97, 0.72, 1.25, 1.55, 0.95])
PAID_RATIO = np.array([0.784, 0.85, 1.0, 0.8, 1.0, 0.8])
MEDICARE, MEDICARE_ADVANTAGE = 0, 1

# --- diagnoses ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class DxProfile:
    name: str
    primary: tuple[str, ...]
    secondary: tuple[str, str, str, str]  # exactly four, disjoint from primary


DX_PROFILES = (
    DxProfile(
        "stroke", ("I69.351", "I69.354", "I69.398", "I69.951", "I63.9"), ("R26.81", "R26.89", "M62.81", "Z91.81")
    ),
    DxProfile("parkinson", ("G20.A1", "G20.A2", "G20.C"), ("R26.81", "R26.89", "Z91.81", "M62.81")),
    DxProfile("ms", ("G35",), ("R26.89", "R27.0", "M62.81", "R26.2")),
    DxProfile(
        "cns_injury",
        ("S06.2X9S", "S06.9X9S", "S14.109S", "S34.109S", "G82.20", "G81.94"),
        ("R26.89", "M62.81", "R27.8", "Z91.81"),
    ),
    DxProfile(
        "balance", ("R26.81", "R26.89", "R42", "H81.10", "H81.399", "Z91.81"), ("M62.81", "M17.11", "M54.50", "M25.561")
    ),
    DxProfile(
        "ankle", ("S93.401D", "S93.402D", "S93.491D", "M25.371", "M25.372"), ("M25.571", "M25.572", "M62.81", "M79.671")
    ),
    DxProfile(
        "ortho",
        (
            "M54.50",
            "M54.16",
            "M54.2",
            "M25.561",
            "M25.562",
            "M25.511",
            "M17.11",
            "M17.12",
            "M75.101",
            "Z96.651",
            "Z96.652",
            "Z47.1",
            "M48.062",
        ),
        ("M62.81", "M25.661", "G89.29", "M79.604"),
    ),
    DxProfile(
        "hand",
        ("S62.101D", "S62.102D", "G56.01", "G56.02", "M65.311", "M19.041", "M79.641", "S52.501D", "M75.101"),
        ("M62.81", "M25.641", "M25.642", "G89.29"),
    ),
)
PROFILE_NAMES = tuple(p.name for p in DX_PROFILES)
# Profile mix per population (columns in DX_PROFILES order).
PROFILE_P = {
    "pt": np.array([0.10, 0.05, 0.03, 0.03, 0.09, 0.05, 0.65, 0.0]),
    "pt_high": np.array([0.30, 0.15, 0.10, 0.10, 0.25, 0.10, 0.0, 0.0]),
    "ot": np.array([0.20, 0.05, 0.03, 0.02, 0.0, 0.0, 0.0, 0.70]),
    "dual": np.array([0.55, 0.25, 0.12, 0.08, 0.0, 0.0, 0.0, 0.0]),
}
# A DX_SUPPORT plant bills 97112 on a claim carrying only weakness and/or pain codes.
UNSUPPORTIVE_DX = ("M62.81", "M62.81;M54.50", "M25.561;M62.81", "M54.50", "M25.561", "M54.2;M62.81", "M25.511;M62.81")

# --- people and places ---------------------------------------------------------------------------

FIRST_NAMES = (
    "Avery",
    "Jordan",
    "Taylor",
    "Morgan",
    "Casey",
    "Riley",
    "Jamie",
    "Quinn",
    "Alex",
    "Cameron",
    "Maria",
    "Sofia",
    "Elena",
    "Grace",
    "Hannah",
    "Olivia",
    "Emma",
    "Chloe",
    "Priya",
    "Aisha",
    "Daniel",
    "Michael",
    "David",
    "James",
    "Ethan",
    "Lucas",
    "Noah",
    "Samuel",
    "Omar",
    "Wei",
    "Linh",
    "Kenji",
    "Rosa",
    "Fatima",
    "Isaac",
    "Nora",
    "Leah",
    "Caleb",
    "Marcus",
    "Ines",
)
LAST_NAMES = (
    "Lopez",
    "Nguyen",
    "Patel",
    "Smith",
    "Johnson",
    "Garcia",
    "Kim",
    "Brown",
    "Davis",
    "Martinez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Thompson",
    "White",
    "Harris",
    "Clark",
    "Lewis",
    "Walker",
    "Hall",
    "Allen",
    "Young",
    "King",
    "Wright",
    "Scott",
    "Green",
    "Baker",
    "Adams",
    "Nelson",
    "Hill",
    "Rivera",
    "Campbell",
    "Mitchell",
    "Carter",
    "Roberts",
    "Chen",
)
CITIES = (
    "Riverside",
    "Lakeview",
    "Cedar Park",
    "Maple Grove",
    "Fairview",
    "Oak Hill",
    "Brookside",
    "Summit",
    "Westfield",
    "Eastgate",
    "Harbor",
    "Pinecrest",
    "Greenville",
    "Northpoint",
    "Southridge",
    "Millbrook",
)
CLINIC_SUFFIXES = (
    "Physical Therapy",
    "Rehab Associates",
    "Sports & Spine Rehab",
    "Therapy Center",
    "Outpatient Rehabilitation",
    "Neuro Rehab Institute",
    "PT & OT",
)

# --- 97112 treatment notes --------------------------------------------------------------------------
# A note is built from one phrase per section in a template's order (``lines.documentation_columns``). Each
# element of the DOCUMENTATION rule has phrases that show it (several phrasings, abbreviations pt,
# SLS, BOS, LOB, DGI, TUG, NMR, PNF, ther ex, and a few typos) and phrases that do not (empty, vague or
# negated): a note planted as missing an element takes one of the latter. Every phrase states one
# element at most (``pipelines/reference/documentation_vocabulary.toml`` must find exactly that one;
# tests/test_generate.py checks it).

DOC_ELEMENTS = ("deficit", "goals", "response", "technique")
NOTE_SHOWS: dict[str, tuple[str, ...]] = {
    "deficit": (
        "Impaired static/dynamic balance, SLS 4 s R.",
        "Decreased proprioception L ankle, LOB with narrow BOS.",
        "Impaired coordination and postural control in gait.",
        "Poor motor control RLE, reduced foot clearance.",
        "Trunk instability in sitting, reaching limited.",
        "Berg 38/56, high fall risk.",
        "DGI 14/24 indicating fall risk.",
        "TUG 16.2 s; pt reports 2 falls in past 3 months.",
        "ABC scale 52%, fear of falling.",
        "Pt w/ impaird balnce and gait instability after CVA.",
        "Decr proprioceptoin B feet, + Romberg.",
        "Unsteady gait w/ wide BOS, 3 LOB during 10 m walk.",
        "c/o dizziness w/ head turns, DGI 15/24.",
    ),
    "technique": (
        "NMR: PNF diagonals with tactile cueing.",
        "Perturbation training on foam/unstable surface.",
        "Core stabilization w/ weight shifting and tactile cues.",
        "Biofeedback-guided postural control training.",
        "Proprioceptive training on BOSU with perturbations.",
        "Gaze stabilization VOR x1 in standing on foam.",
        "Tactile cueing for pelvic weight shift during stepping.",
        "NMR: rhythmic stabilization, ankle/hip strategy training on rocker board.",
        "Perturbaton tx on dynadisc w/ VC for upright posture.",
        "Vestibular rehab: habituation ex + gaze stabilizaton.",
        "Dual-task gait with cognitive load, tactile cues at pelvis.",
    ),
    "goals": (
        "Goal: SLS 20 s bilat in 4 wks.",
        "Goal: Berg >= 48/56 in 6 wks.",
        "LTG: TUG < 12 s within 8 weeks to reduce fall risk.",
        "STG: DGI 19/24 in 3 wks.",
        "Pt will ambulate 300 ft on uneven surfaces w/o LOB in 6 wks.",
        "Increase Berg to 48/56 in 4 weeks.",
        "Goals: ABC > 67% and tandem stance 30 s by 8 wks.",
        "STG (2 wks): SLS 10 s on L.",
        "Gaol: improve DGI to 20/24 in 4 wks.",
        "LTG: DGI >= 19/24 by discharge.",
    ),
    "response": (
        "Pt tolerated well, decreased sway.",
        "Response: improved weight shift, min verbal cues.",
        "Fatigued late in session, fewer LOB than last visit.",
        "Improved SLS from 5 to 12 s.",
        "LOB decreased from 4 to 1 during tandem walk.",
        "Pt toleratd tx well.",
        "Progressing toward goals, HEP updated.",
        "Pt responded well to cueing, able to maintain tandem stance 20 s.",
        "Sway reduced by end of session.",
    ),
}
NOTE_LACKS: dict[str, tuple[str, ...]] = {
    "deficit": (
        "",
        "Denies dizziness today.",
        "No LOB reported at home since last visit.",
        "Pt reports no loss of balance w/ ADLs.",
        "No falls or near falls since last visit.",
    ),
    "technique": (
        "",
        "Ther ex: LAQ, heel raises, marching 2x10.",
        "Pt performed bike 10 min and standing hip abd 3x10.",
        "NMR performed as per HEP.",
        "Static standing balance ex w/o perturbation.",
        "Balance ex in parallel bars.",
    ),
    "goals": (
        "",
        "Goal: improve balance.",
        "Goal: improve balance to reduce fall risk.",
        "Goal: Berg 48/56.",
        "Goals per POC.",
    ),
    "response": (
        "",
        "HEP reviewed.",
        "Next visit Thurs.",
        "Continue POC, progress as tolerated.",
    ),
}
# Opening remarks that state no element (some are negations the detector must not take for a deficit).
NOTE_OPENING = (
    "",
    "Pt arrived on time.",
    "Denies dizziness today.",
    "No falls since last visit.",
    "Pt reports no new complaints.",
    "Vitals WNL.",
    "Pt seen for NMR per POC.",
)
# Templates: the order of the sections (opening, deficit, technique, response, goals) and a header
# before each; "{}" is the phrase.
NOTE_TEMPLATES: tuple[tuple[tuple[str, str], ...], ...] = (
    (("opening", "S: {}"), ("deficit", "O: {}"), ("technique", "Tx: {}"), ("response", "A: {}"), ("goals", "P: {}")),
    (("deficit", "Deficit: {}"), ("technique", "{}"), ("goals", "{}"), ("response", "{}")),
    (("opening", "{}"), ("deficit", "{}"), ("technique", "{}"), ("response", "{}"), ("goals", "{}")),
    (("opening", "{}"), ("technique", "{}"), ("deficit", "Assessment: {}"), ("response", "{}"), ("goals", "Plan: {}")),
)
NOTE_TEMPLATE_P = (0.3, 0.25, 0.3, 0.15)

# --- reference data shared with the rules engine ------------------------------------------------


def _rows(name: str) -> list[dict[str, str]]:
    with open(REFERENCE_DIR / name, newline="", encoding="utf-8") as stream:
        return list(csv.DictReader(stream))


def _norm_dx(code: str) -> str:
    return code.strip().upper().replace(".", "")


@dataclass(frozen=True)
class Reference:
    timed: frozenset[str]
    cms_payers: frozenset[str]
    supportive_prefixes: tuple[str, ...]
    daily_limit_97112: int
    impossible_day_minutes: int

    def supportive(self, code: str) -> bool:
        norm = _norm_dx(code)
        return any(norm.startswith(p) for p in self.supportive_prefixes)


@lru_cache(maxsize=1)
def reference() -> Reference:
    """The seed tables, checked against what the generator assumes."""
    timed = frozenset(r["cpt_code"] for r in _rows("cpt_codes.csv") if r["timed"].strip().lower() == "true")
    cms = frozenset(r["payer_type"] for r in _rows("payer_methods.csv") if r["method"].strip().lower() == "cms")
    prefixes = tuple(sorted({_norm_dx(r["icd10_prefix"]) for r in _rows("dx_97112_supportive.csv")}))
    limits = {r["cpt_code"]: int(r["max_units_per_day"]) for r in _rows("daily_limits.csv")}
    named = {r["name"]: float(r["value"]) for r in _rows("limits.csv")}
    ref = Reference(
        timed=timed,
        cms_payers=cms,
        supportive_prefixes=prefixes,
        daily_limit_97112=limits.get("97112", 4),
        impossible_day_minutes=int(named.get("impossible_day_ceiling_minutes", 720)),
    )
    wrong = [c for c in TIMED_CODES if c not in timed] + [c for c in UNTIMED_CODES if c in timed]
    if wrong:
        raise RuntimeError(f"generator code tables disagree with cpt_codes.csv on: {wrong}")
    for profile in DX_PROFILES:
        if set(profile.primary) & set(profile.secondary):
            raise RuntimeError(f"dx profile {profile.name}: primary and secondary overlap")
    if any(ref.supportive(c) for d in UNSUPPORTIVE_DX for c in d.split(";")):
        raise RuntimeError("an UNSUPPORTIVE_DX code is supportive per dx_97112_supportive.csv")
    return ref
