"""The note detector of the DOCUMENTATION rule: which elements a 97112 treatment note shows.

Transparent and configurable: the vocabulary is reference data (``pipelines/reference/
documentation_vocabulary.toml``: patterns with their rationale and examples, masks, negations), read
into a frozen ``Vocabulary``; the detection is a handful of vectorized Polars string expressions
(``str.replace_all`` for the masks, ``str.extract`` / ``str.extract_all`` for the elements), run only
over the notes the rule hands it. No Python loop over rows.

Elements (``ELEMENTS``): ``deficit`` (a functional deficit), ``goals`` (measurable goals: a target,
a measure and a time frame), ``response`` (the response to treatment), ``technique`` (a skilled
neuromuscular technique). An element is found when any of its patterns matches the note after the
element's masks are blanked (see the vocabulary file's header: goal clauses, response statements,
negated terms such as "no loss of balance" or "denies dizziness").

It lives outside ``pipelines.rules`` so that the dashboard (which never imports the rules engine)
can highlight the same spans on the patient-day page (``highlight_segments``).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import polars as pl

DEFAULT_PATH = Path(__file__).resolve().parents[1] / "reference" / "documentation_vocabulary.toml"
ELEMENTS = ("deficit", "goals", "response", "technique")
# How details and pages name the elements (fixed, so that a finding's detail stays parseable).
LABELS = {
    "deficit": "functional deficit",
    "goals": "measurable goals",
    "response": "response to treatment",
    "technique": "skilled technique",
}
MASK_FILL = " ; "  # a masked stretch becomes a clause break that no pattern can span
MAX_SPAN = 60  # characters of a quoted span


_OUTSIDE = {"w": "[0-9A-Za-z_]", "s": r"[\t\n\x0B\f\r ]", "d": "[0-9]", "b": r"(?-u:\b)"}
_INSIDE = {"w": "0-9A-Za-z_", "s": r"\t\n\x0B\f\r ", "d": "0-9"}


def ascii_classes(pattern: str) -> str:
    r"""``pattern`` with ``\w``, ``\s``, ``\d`` and ``\b`` made ASCII (inside and outside ``[...]``).

    Speed, not meaning: with Unicode word classes, case-insensitive alternations of this size
    overflow the regex engine's lazy DFA and ``str.extract`` falls back to an engine hundreds of times
    slower. Clinical abbreviations are ASCII."""
    out: list[str] = []
    i, n, in_class = 0, len(pattern), False
    while i < n:
        c = pattern[i]
        if c == "\\" and i + 1 < n:
            nxt = pattern[i + 1]
            out.append((_INSIDE if in_class else _OUTSIDE).get(nxt, c + nxt))
            i += 2
            continue
        if c == "[" and not in_class:
            in_class = True
            out.append(c)
            i += 1
            for literal in ("^", "]"):  # "[^" and a leading "]" belong to the class
                if i < n and pattern[i] == literal:
                    out.append(literal)
                    i += 1
            continue
        if c == "]" and in_class:
            in_class = False
        out.append(c)
        i += 1
    return "".join(out)


class VocabularyError(ValueError):
    """The vocabulary file is missing a part, or holds a pattern Polars cannot compile."""


@dataclass(frozen=True)
class Pattern:
    name: str
    pattern: str
    rationale: str
    examples: tuple[str, ...] = ()


@dataclass(frozen=True)
class Element:
    name: str
    patterns: tuple[Pattern, ...]
    masks: tuple[str, ...] = ()
    negatable: tuple[str, ...] = ()
    counter_examples: tuple[str, ...] = ()

    @property
    def regex(self) -> str:
        """Every pattern of the element as one case-insensitive alternation."""
        return "(?i)" + "|".join(f"(?:{ascii_classes(p.pattern)})" for p in self.patterns)


@dataclass(frozen=True)
class Vocabulary:
    """The detector's reference data (see the TOML file's header for the semantics)."""

    version: str
    sources: tuple[str, ...]
    elements: dict[str, Element]
    masks: dict[str, str]  # name -> pattern (the [masks] table)
    negation_cues: tuple[str, ...]
    negation_connectors: tuple[str, ...]
    path: str = ""

    def negation_regex(self, element: str) -> str | None:
        """Cue, optional connectors, then one or more of the element's negatable terms
        ('denies dizziness or vertigo'); None when the element has no negatable term."""
        terms = self.elements[element].negatable
        if not terms:
            return None
        cue = "|".join(self.negation_cues)
        conn = "|".join(self.negation_connectors)
        term = "|".join(terms)
        lead = rf"(?:(?:{conn})\s+)*"
        return "(?i)" + ascii_classes(
            rf"\b(?:{cue})\s+{lead}(?:{term})(?:\s*(?:,|/|\bor\b|\band\b|\bnor\b)\s*{lead}(?:{term}))*"
        )

    def goal_regexes(self) -> list[str]:
        """The "goals" mask: goal / plan clauses, then every match of the goals element."""
        return ["(?i)" + ascii_classes(self.masks["goal_clause"]), self.elements["goals"].regex]

    def mask_regexes(self, element: str, goals_done: bool = False) -> list[str]:
        """The patterns blanked before ``element`` is searched, in order (without the leading
        "goals" mask when ``goals_done``: the text is already ``masked_goals``)."""
        out: list[str] = []
        masks = self.elements[element].masks
        if goals_done and masks[:1] == ("goals",):
            masks = masks[1:]
        for mask in masks:
            if mask == "goals":
                out.extend(self.goal_regexes())
            elif mask == "response":
                out.extend(self.mask_regexes("response"))
                out.append(self.elements["response"].regex)
            elif mask == "negation":
                neg = self.negation_regex(element)
                if neg:
                    out.append(neg)
            else:
                out.append("(?i)" + ascii_classes(self.masks[mask]))
        return list(dict.fromkeys(out))  # a mask applied twice changes nothing


def _strings(value, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise VocabularyError(f"{where} must be a list of strings")
    return tuple(value)


def _check_regex(pattern: str, where: str) -> None:
    try:
        pl.select(pl.lit("x", pl.String).str.contains(pattern)).item()
    except pl.exceptions.PolarsError as exc:
        raise VocabularyError(f"{where}: pattern does not compile: {exc}") from exc


def parse_vocabulary(data: dict, path: str = "") -> Vocabulary:
    """A ``Vocabulary`` from the parsed TOML (every element present, every pattern compiled)."""
    where = path or "documentation vocabulary"
    elements: dict[str, Element] = {}
    raw_elements = data.get("elements") or {}
    missing = [e for e in ELEMENTS if e not in raw_elements]
    if missing:
        raise VocabularyError(f"{where}: no [elements.{missing[0]}] section")
    masks = {str(k): str(v["pattern"]) for k, v in (data.get("masks") or {}).items()}
    if "goal_clause" not in masks:
        raise VocabularyError(f"{where}: no [masks.goal_clause]")
    for name in ELEMENTS:
        raw = raw_elements[name]
        patterns = tuple(
            Pattern(
                str(p["name"]),
                str(p["pattern"]),
                str(p.get("rationale", "")),
                _strings(p.get("examples"), f"{where}: {name} examples"),
            )
            for p in raw.get("patterns") or []
        )
        if not patterns:
            raise VocabularyError(f"{where}: element {name} has no pattern")
        element_masks = _strings(raw.get("masks"), f"{where}: {name} masks")
        unknown = [m for m in element_masks if m not in {"goals", "response", "negation", *masks}]
        if unknown:
            raise VocabularyError(f"{where}: element {name} names an unknown mask {unknown[0]!r}")
        elements[name] = Element(
            name=name,
            patterns=patterns,
            masks=element_masks,
            negatable=_strings(raw.get("negatable"), f"{where}: {name} negatable"),
            counter_examples=_strings(raw.get("counter_examples"), f"{where}: {name} counter_examples"),
        )
    negation = data.get("negation") or {}
    vocab = Vocabulary(
        version=str(data.get("version", "")),
        sources=_strings(data.get("sources"), f"{where}: sources"),
        elements=elements,
        masks=masks,
        negation_cues=_strings(negation.get("cues"), f"{where}: negation cues") or ("no", "not", "denies"),
        negation_connectors=_strings(negation.get("connectors"), f"{where}: negation connectors") or ("any",),
        path=path,
    )
    for name, element in elements.items():
        for p in element.patterns:
            _check_regex("(?i)" + ascii_classes(p.pattern), f"{where}: {name} pattern {p.name!r}")
        for regex in vocab.mask_regexes(name):
            _check_regex(regex, f"{where}: mask of {name}")
    return vocab


@lru_cache(maxsize=8)
def load_vocabulary(path: Path | str | None = None) -> Vocabulary:
    """Read the vocabulary TOML (default: the shipped seed); cached per path."""
    path = Path(path) if path is not None else DEFAULT_PATH
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise VocabularyError(f"documentation vocabulary {path}: cannot be read: {exc}") from exc
    return parse_vocabulary(data, str(path))


def masked_goals(note: pl.Expr, vocab: Vocabulary) -> pl.Expr:
    """``note`` with the "goals" mask applied (what most elements mask first: compute it once)."""
    for regex in vocab.goal_regexes():
        note = note.str.replace_all(regex, MASK_FILL)
    return note


def masked(note: pl.Expr, vocab: Vocabulary, element: str, goals_done: bool = False) -> pl.Expr:
    """``note`` with the stretches ``element`` ignores blanked (a clause break each); pass
    ``goals_done`` when ``note`` is already ``masked_goals``."""
    for regex in vocab.mask_regexes(element, goals_done):
        note = note.str.replace_all(regex, MASK_FILL)
    return note


def uses_goal_mask(vocab: Vocabulary, element: str) -> bool:
    """Whether ``element`` is searched in the goal-masked text."""
    return vocab.elements[element].masks[:1] == ("goals",)


def detect(note: pl.Expr, vocab: Vocabulary) -> dict[str, pl.Expr]:
    """Per element, an expression giving the first matching span of ``note`` (null: not found, or
    no note). The span is the note's own text (masks never reach into it), not yet shortened."""
    return {e: masked(note, vocab, e).str.extract(vocab.elements[e].regex, 0) for e in ELEMENTS}


def all_spans(note: pl.Expr, vocab: Vocabulary) -> dict[str, pl.Expr]:
    """Per element, every matching span of ``note`` (a list), for highlighting."""
    return {e: masked(note, vocab, e).str.extract_all(vocab.elements[e].regex) for e in ELEMENTS}


def highlight_segments(text: str, vocab: Vocabulary | None = None) -> list[tuple[str, str | None]]:
    """``text`` cut into (piece, element or None) in order, the detected spans marked, for a page
    that shows one note (a few notes at a time: Polars runs the detection, Python only locates the
    spans). Overlapping spans keep the earliest."""
    vocab = vocab or load_vocabulary()
    if not text:
        return []
    found = (
        pl.DataFrame({"note": [text]}, schema={"note": pl.String})
        .select(**dict(all_spans(pl.col("note"), vocab).items()))
        .row(0, named=True)
    )
    marks: list[tuple[int, int, str]] = []
    for element in ELEMENTS:
        start = 0
        for span in found[element] or []:
            if not span:
                continue
            at = text.find(span, start)
            if at < 0:
                at = text.find(span)
            if at < 0:
                continue
            marks.append((at, at + len(span), element))
            start = at + len(span)
    marks.sort()
    out: list[tuple[str, str | None]] = []
    pos = 0
    for a, b, element in marks:
        if a < pos:
            continue  # overlaps an earlier mark
        if a > pos:
            out.append((text[pos:a], None))
        out.append((text[a:b], element))
        pos = b
    if pos < len(text):
        out.append((text[pos:], None))
    return out
