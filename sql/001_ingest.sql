-- Ingestion tables (review outputs v1: claim_lines, quarantine, ingest_log).
-- Columns beyond the input contract are added to claim_lines as VARCHAR when a file brings them.

create table if not exists claim_lines (
    claim_id varchar not null,
    line_number bigint not null,
    patient_id varchar not null,
    rendering_npi varchar not null,
    service_date date not null,
    cpt_code varchar not null,
    units_billed bigint not null,
    payer_type varchar not null,
    minutes bigint,
    total_timed_minutes bigint,
    billing_npi varchar,
    modifiers varchar,
    diagnosis_codes varchar,
    payer_name varchar,
    charge_amount double,
    allowed_amount double,
    paid_amount double,
    visit_start timestamp,
    visit_end timestamp,
    provider_specialty varchar,
    provider_name varchar,
    clinic_name varchar,
    deficit_documented boolean,
    goals_documented boolean,
    response_documented boolean,
    note_text varchar,
    justification_documented boolean,
    claim_frequency bigint,          -- X12 CLM05-3: 1 original, 7 replacement, 8 void (blank = 1)
    original_claim_id varchar,       -- the claim a replacement (7) or void (8) replaces or voids
    source_file varchar not null,
    source_row bigint not null,
    ingested_at timestamptz not null
);

create table if not exists quarantine (
    source_file varchar not null,
    source_row bigint not null,
    reasons varchar[] not null,
    raw_values json,          -- the row as read: original header -> text
    raw_line varchar,         -- the line itself, when it could not be split into fields
    quarantined_at timestamptz not null
);

create table if not exists ingest_log (
    source_file varchar not null,
    sha256 varchar not null,
    file_format varchar,
    file_bytes bigint,
    rows_read bigint not null,
    rows_loaded bigint not null,
    rows_quarantined bigint not null,
    status varchar not null,   -- loaded | rejected | duplicate
    reason varchar,
    profile_columns varchar,   -- headers read through a mapping profile: "Date of Service->service_date"
    run_id varchar,            -- the Dagster run that read the file
    ingested_at timestamptz not null
);
-- The file's modification time (ns) when it was last hashed with this content: a later review does
-- not read a file again whose name, size and modification time are those logged (as git's index).
alter table ingest_log add column if not exists file_mtime_ns bigint;
