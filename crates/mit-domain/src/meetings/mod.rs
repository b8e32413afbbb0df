//! Meetings and their life cycle.

use mit_api::server::MeetingsApi;

use crate::Mit;

impl MeetingsApi for Mit {}
