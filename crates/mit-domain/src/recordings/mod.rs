//! Server-side recordings.

use mit_api::server::RecordingsApi;

use crate::Mit;

impl RecordingsApi for Mit {}
