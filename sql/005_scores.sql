-- Scoring's per-month pieces (pipelines/warehouse/score_pieces.py): which months have one, made with which
-- scoring settings and from which rules stamp (rules_months.computed_at). The pieces themselves
-- live in score_piece_* tables whose columns follow the settings (peer keys).
create table if not exists score_pieces (
    service_month date primary key,
    settings_hash varchar not null,
    rules_computed_at timestamptz
);
