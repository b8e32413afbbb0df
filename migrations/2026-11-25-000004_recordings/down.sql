DROP TABLE jobs;
DROP TABLE recordings;
ALTER TABLE meetings DROP COLUMN recording_version;
