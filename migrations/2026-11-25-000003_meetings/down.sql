DROP TABLE chat_messages;
DROP TABLE notes;
DROP TABLE participants;
DROP TABLE meetings;
