-- Rules outputs (review outputs v1: line_units, findings). Rows are replaced per service month.

create table if not exists line_units (
    claim_id varchar not null,
    line_number bigint not null,
    patient_id varchar,
    service_date date not null,
    rendering_npi varchar,
    billing_provider varchar,        -- with patient, date and discipline: the 8-minute-rule group
    discipline varchar,              -- PT, OT or SLP (GP/GO/GN, else provider_specialty, else PT)
    cpt_code varchar,
    is_timed boolean,
    method varchar,                  -- cms | ama
    units_billed bigint,
    minutes_used bigint,
    total_timed_minutes bigint,
    visit_timed_minutes bigint,
    code_minutes bigint,
    code_units_billed bigint,
    code_units_min bigint,
    code_units_max bigint,
    group_timed_minutes bigint,       -- co-treatment minutes (group_shared_minutes) counted once
    group_shared_minutes bigint,      -- minutes two clinicians spent with the patient at once on one code
    group_code_minutes bigint,        -- the group's per-code minutes, when every billed line has them
    group_visit_total_minutes bigint, -- the group's visit totals, when every visit has one
    visit_disciplines varchar,        -- 'OT+PT': the claim's disciplines share one visit total
    group_units_billed bigint,
    group_supported_units bigint,
    group_basis varchar,
    expected_units bigint,           -- null where a tie leaves the choice to the clinician
    expected_units_min bigint,
    expected_units_max bigint,
    expected_basis varchar,
    duplicate_extra boolean,
    price_per_unit double,           -- paid, else allowed, else charge per unit, else the fee schedule's estimate
    price_basis varchar,             -- paid | allowed | charge | pfs_estimate
    claim_status varchar             -- original, replacement, replaced, void, voided, unresolved_*
);

create table if not exists findings (
    rule_id varchar not null,
    severity varchar not null,
    rendering_npi varchar,
    patient_id varchar,
    service_date date not null,
    claim_id varchar,
    line_number bigint,
    units_over bigint,
    amount_at_risk double,           -- the finding's own units at its lines' prices
    detail varchar,
    billing_provider varchar,
    discipline varchar,
    exposure double,                 -- the part no finding of higher precedence counted: totals sum this
    price_basis varchar,             -- paid, allowed, charge, pfs_estimate (the bases of its lines' prices)
    exposure_estimated boolean,      -- some of it is the fee schedule's national estimate
    counted_by varchar,              -- rules whose findings counted some of its lines first
    finding_key varchar,             -- set by the history stage: the same finding across reviews
    first_seen timestamptz,
    last_seen timestamptz
);

-- Whether a rule could run on the warehouse's data (DOCUMENTATION needs flags or notes).
create table if not exists rule_coverage (
    rule_id varchar primary key,
    ran boolean not null,
    patient_days_checked bigint,
    patient_days_not_assessable bigint,
    note varchar
);

-- The DOCUMENTATION rule's coverage counts per service month (rule_coverage sums them): kept per
-- month so that a review recomputing some months need not reread every month's notes.
create table if not exists rule_coverage_months (
    rule_id varchar not null,
    service_month date not null,     -- first day of the month
    patient_days_97112 bigint,
    patient_days_by_flags bigint,
    patient_days_by_notes bigint,
    patient_days_not_assessable bigint,
    patient_days_technique_not_assessable bigint
);

-- When the rules last recomputed each service month: what later stages compare their own per-month
-- work against (scoring keeps a piece per month and remakes it when this stamp moves).
create table if not exists rules_months (
    service_month date primary key,  -- first day of the month
    computed_at timestamptz not null
);
