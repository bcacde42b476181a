-- Review history (scheduled reviews): one row per review run, every finding's first and last
-- sighting, and what the rules stage last covered (for incremental recomputation by service month).

create table if not exists review_runs (
    run_id varchar primary key,
    started_at timestamptz,
    finished_at timestamptz not null,
    input_path varchar,
    files json,                 -- per file: name, status, rows (no patient data)
    rows_read bigint,
    rows_loaded bigint,
    rows_quarantined bigint,
    claim_lines bigint,
    findings bigint,
    findings_by_rule json,
    new_findings bigint,
    resolved_findings bigint,
    months_recomputed json,
    config_hash varchar not null
);

create table if not exists finding_history (
    finding_key varchar primary key, -- md5 of rule_id and the finding's identifying columns
    rule_id varchar not null,
    first_seen timestamptz not null,
    first_seen_run varchar,
    last_seen timestamptz not null,
    last_seen_run varchar,
    resolved_at timestamptz,          -- set when a review no longer raises it; cleared if it returns
    resolved_run varchar
);

create table if not exists rules_state (
    id integer primary key,           -- always 1
    computed_through timestamptz,     -- claim lines ingested up to here are in line_units/findings
    config_hash varchar,              -- the [rules] section and reference files (rules_fingerprint)
    units_hash varchar                -- what line_units read of them (units_fingerprint)
);
alter table rules_state add column if not exists units_hash varchar;
