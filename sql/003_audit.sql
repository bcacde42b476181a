-- Audit samples and their appraisals (pipelines/audit; RAT-STATS conventions).
-- A sample is re-drawn exactly from its row's parameters (seed, strata, sizes, provider, period) on a
-- frame with the same fingerprint; an appraisal is re-run exactly from the inputs it stores.
-- The dashboard never writes here: its draws go to a separate <stem>.audit.duckdb beside the snapshot.

create table if not exists audit_samples (
    sample_id varchar not null,
    sample_item integer not null,        -- 1..n: strata in order, then frame order
    stratum integer not null,            -- 1-based; an unrestricted sample has the single stratum 1
    stratum_lower double,                -- [lower, upper) of examined amounts; null: unbounded
    stratum_upper double,
    frame_position bigint not null,      -- 0-based position in the stratum's frame sorted by (service_date, patient_id)
    patient_id varchar not null,
    service_date date not null,
    rendering_npi varchar not null,
    lines bigint not null,
    examined_amount double not null,
    amount_basis varchar not null,       -- which amount the lines carried: paid, allowed, charge (e.g. 'paid+allowed')
    seed bigint not null,
    frame_size bigint not null,          -- N_h: beneficiary-days in the item's stratum
    stratum_sample_size bigint not null, -- n_h
    frame_size_total bigint not null,    -- N
    sample_size_total bigint not null,   -- n
    requested_size bigint,               -- the total asked for (proportional allocation), if any
    strata varchar,                      -- the bounds, e.g. '0,100,250'; null: unrestricted
    stratum_sizes varchar,               -- the sizes given per stratum, e.g. '10,20,all'; null: proportional
    allocation varchar not null,         -- unrestricted | proportional | given
    period_start date,
    period_end date,
    config_fingerprint varchar not null, -- hash of the draw parameters (and the procedure)
    frame_fingerprint varchar not null,  -- hash of the sorted frame (dates, patients, amounts)
    review_config_hash varchar,          -- the review configuration the findings came from (rules_state), if recorded
    procedure varchar not null,
    source_database varchar,             -- the warehouse (or snapshot) the frame was read from
    drawn_at timestamptz not null,
    primary key (sample_id, sample_item)
);

create table if not exists audit_appraisals (
    appraisal_id varchar not null,
    sample_id varchar not null,
    scope varchar not null,              -- stratum | overall
    stratum integer,                     -- null for the overall row
    stratum_label varchar,
    design varchar not null,             -- unrestricted | stratified
    frame_size bigint not null,          -- N (N_h)
    sample_size bigint not null,         -- n (n_h)
    examined_sample double,              -- sums over the sampled items
    audited_sample double,
    difference_sample double,
    mean_difference double,
    sd_difference double,                -- sample standard deviation (n - 1)
    point_estimate double not null,      -- N * mean (unrestricted, stratum); sum of N_h * mean_h (stratified overall)
    standard_error double not null,      -- N * sqrt((1 - n/N) s^2 / n); overall stratified sqrt(sum SE_h^2)
    distribution varchar not null,       -- t (n - 1 df) | z (stratified overall)
    degrees_of_freedom integer,
    quantile_80 double, lower_80 double, upper_80 double, precision_80 double, precision_pct_80 double,
    quantile_90 double, lower_90 double, upper_90 double, precision_90 double, precision_pct_90 double,
    quantile_95 double, lower_95 double, upper_95 double, precision_95 double, precision_pct_95 double,
    one_sided_lower_90 double,           -- = lower_80
    at_least double,                     -- OIG's "at least $X": lower_90
    items_in_error bigint,               -- sampled items with a nonzero difference
    error_rate double,
    error_rate_exact_lower_90 double,    -- hypergeometric (unrestricted samples and strata)
    error_rate_exact_upper_90 double,
    error_rate_normal_lower_90 double,
    error_rate_normal_upper_90 double,
    sample_items integer[],              -- the inputs, to re-run the appraisal exactly
    examined_amounts double[],
    audited_amounts double[],
    source varchar,                      -- the worksheet's file name
    worksheet_sha256 varchar,
    appraised_at timestamptz not null
);
