DROP TABLE fact_history;
DROP TABLE approval_rules;
DROP TABLE branch_discussions;
DROP TABLE branch_vetoes;
DROP TABLE branch_approvals;
DROP TABLE branches;
DROP TABLE facts;
DROP TABLE projects;
