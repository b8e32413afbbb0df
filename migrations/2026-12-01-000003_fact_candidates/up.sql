-- Lines of a review marked to become Ground Truth when it merges: one mark per line, and one
-- line per key within a review (case-insensitively), as constraints.
CREATE TABLE review_fact_candidates (
    line_id uuid PRIMARY KEY REFERENCES review_lines (id) ON DELETE CASCADE,
    review_id uuid NOT NULL REFERENCES reviews (id) ON DELETE CASCADE,
    key text NOT NULL CHECK (key = btrim(key) AND key <> ''),
    value text NOT NULL,
    category text,
    project_id uuid REFERENCES projects (id) ON DELETE SET NULL,
    marked_by uuid NOT NULL REFERENCES users (id),
    marked_at timestamptz NOT NULL,
    -- What the merge made of it.
    fact_id uuid REFERENCES facts (id) ON DELETE SET NULL,
    branch_id uuid REFERENCES branches (id) ON DELETE SET NULL
);
CREATE UNIQUE INDEX review_fact_candidates_key ON review_fact_candidates (review_id, lower(key));
