//! Who takes part in a meeting.

use mit_api::server::ParticipantsApi;

use crate::Mit;

impl ParticipantsApi for Mit {}
