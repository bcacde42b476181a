-- Input contract: the optional claim_frequency and original_claim_id columns (replacements and voids),
-- and line_units.claim_status, added to warehouses made before them (new ones have them from 001/004).
alter table claim_lines add column if not exists claim_frequency bigint;
alter table claim_lines add column if not exists original_claim_id varchar;
alter table line_units add column if not exists claim_status varchar;
alter table line_units add column if not exists group_shared_minutes bigint;
