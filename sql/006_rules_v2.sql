-- Columns added since the first release, for warehouses made before them (new ones have them from 001/004):
-- the input contract's claim_frequency and original_claim_id, and line_units' co-treatment, visit-total and
-- claim-status columns.
alter table claim_lines add column if not exists claim_frequency bigint;
alter table claim_lines add column if not exists original_claim_id varchar;
alter table line_units add column if not exists claim_status varchar;
alter table line_units add column if not exists group_shared_minutes bigint;
alter table line_units add column if not exists group_code_minutes bigint;
alter table line_units add column if not exists group_visit_total_minutes bigint;
alter table line_units add column if not exists visit_disciplines varchar;
