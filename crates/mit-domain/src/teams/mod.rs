//! Teams and their members.

use mit_api::server::TeamsApi;

use crate::Mit;

impl TeamsApi for Mit {}
