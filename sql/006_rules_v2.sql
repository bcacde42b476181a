-- Columns added since the first release, for warehouses made before them (new ones have them from 001/004):
-- the input contract's claim_frequency and original_claim_id, and line_units' co-treatment, visit-total and
-- claim-status columns, the findings' exposure (one amount at risk per line).
alter table claim_lines add column if not exists claim_frequency bigint;
alter table claim_lines add column if not exists original_claim_id varchar;
alter table line_units add column if not exists claim_status varchar;
alter table line_units add column if not exists group_shared_minutes bigint;
alter table line_units add column if not exists group_code_minutes bigint;
alter table line_units add column if not exists group_visit_total_minutes bigint;
alter table line_units add column if not exists visit_disciplines varchar;
alter table line_units add column if not exists price_basis varchar;
alter table findings add column if not exists exposure double;
alter table findings add column if not exists price_basis varchar;
alter table findings add column if not exists exposure_estimated boolean;
alter table findings add column if not exists counted_by varchar;
