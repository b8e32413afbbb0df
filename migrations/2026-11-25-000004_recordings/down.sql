DROP TABLE jobs;
DROP TABLE recordings;
