//! Notes on a meeting.

use mit_api::server::NotesApi;

use crate::Mit;

impl NotesApi for Mit {}
