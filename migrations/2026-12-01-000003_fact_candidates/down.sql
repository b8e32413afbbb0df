DROP TABLE review_fact_candidates;
