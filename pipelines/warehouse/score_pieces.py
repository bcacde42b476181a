"""Scoring's per-month pieces kept in the warehouse, so that a review scores only the months the
rules recomputed and reads the other months' pieces back (``scores.score.Piece``: a few small
frames per month: provider facts, distinct patients, label counts, dates, findings per rule).

A month's piece is valid while its rules stamp (``rules_months.computed_at``, set when the rules
stage publishes the month) and the scoring settings are those it was made with; ``score_pieces``
records both. The pieces are a cache: losing them (or a crash between writing them and the score
tables) costs only their recomputation.
"""

from __future__ import annotations

import datetime as dt
import hashlib

import duckdb
import polars as pl

from pipelines.scores.facts import MonthFacts
from pipelines.scores.score import Piece
from pipelines.scores.settings import ScoreSettings
from pipelines.warehouse.schema import quote_identifier, table_columns, transaction

# bump when a piece's frames change shape or meaning: every stored piece is then made again
PIECE_VERSION = "1"
PARTS = ("providers", "patients", "labels", "dates", "counts", "flagged", "rules")
MONTH = "service_month"


def settings_hash(settings: ScoreSettings) -> str:
    """What a stored piece depends on besides its month's rows: the scoring settings and the version."""
    return hashlib.sha256(f"{PIECE_VERSION}|{settings!r}".encode()).hexdigest()[:16]


def _table(part: str) -> str:
    return quote_identifier(f"score_piece_{part}")


def _frames(piece: Piece) -> dict[str, pl.DataFrame]:
    f = piece.facts
    rules = pl.DataFrame({"rule_id": sorted(piece.rules)}, schema={"rule_id": pl.String})
    return dict(zip(PARTS, (f.providers, f.patients, f.labels, f.dates, piece.counts, piece.flagged, rules), strict=True))


def months_to_score(con: duckdb.DuckDBPyConnection, months: list[dt.date], settings: ScoreSettings) -> list[dt.date]:
    """The months without a valid stored piece: none stored, made under other settings, or the rules
    recomputed the month since. Pieces of other settings or of months no longer scored are dropped."""
    wanted = settings_hash(settings)
    if con.execute("select count(*) from score_pieces where settings_hash <> ?", [wanted]).fetchall()[0][0]:
        drop_pieces(con)
        return list(months)
    stored = dict(con.execute(f"select {MONTH}, rules_computed_at from score_pieces").fetchall())
    stamps = dict(con.execute(f"select {MONTH}, computed_at from rules_months").fetchall())
    scored = set(months)
    gone = [m for m in stored if m not in scored]
    if gone:
        _delete(con, gone)
    return [m for m in months if m not in stored or stored[m] != stamps.get(m)]


def drop_pieces(con: duckdb.DuckDBPyConnection) -> None:
    """Forget every stored piece (their tables go too: their columns follow the settings)."""
    for part in PARTS:
        con.execute(f"drop table if exists {_table(part)}")
    con.execute("delete from score_pieces")


def _delete(con: duckdb.DuckDBPyConnection, months: list[dt.date]) -> None:
    for part in PARTS:
        if table_columns(con, f"score_piece_{part}"):
            con.execute(f"delete from {_table(part)} where {MONTH} in (select unnest($months::date[]))", {"months": months})
    con.execute(f"delete from score_pieces where {MONTH} in (select unnest($months::date[]))", {"months": months})


def save_piece(con: duckdb.DuckDBPyConnection, month: dt.date, piece: Piece, settings: ScoreSettings) -> None:
    """Store one month's piece with the rules stamp it was made from, replacing the month's old one."""
    with transaction(con):
        _delete(con, [month])
        for part, frame in _frames(piece).items():
            con.register("incoming", frame.with_columns(pl.lit(month).alias(MONTH)))
            try:
                con.execute(f"create table if not exists {_table(part)} as select * from incoming limit 0")
                con.execute(f"insert into {_table(part)} by name select * from incoming")
            finally:
                con.unregister("incoming")
        con.execute(
            f"insert into score_pieces select ?, ?, (select computed_at from rules_months where {MONTH} = ?)",
            [month, settings_hash(settings), month],
        )


def load_pieces(con: duckdb.DuckDBPyConnection, months: list[dt.date]) -> Piece | None:
    """The stored pieces of these months as one piece (pieces of different months add up)."""
    if not months:
        return None
    frames = {
        part: con.sql(
            f"select * exclude ({MONTH}) from {_table(part)} where {MONTH} in (select unnest($months::date[]))",
            params={"months": months},
        ).pl()
        for part in PARTS
    }
    facts = MonthFacts(providers=frames["providers"], patients=frames["patients"], labels=frames["labels"], dates=frames["dates"])
    return Piece(facts, frames["counts"], frames["flagged"], set(frames["rules"]["rule_id"].to_list()))
