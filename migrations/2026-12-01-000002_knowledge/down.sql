DROP TABLE fact_history;
DROP TABLE facts;
DROP TABLE projects;
