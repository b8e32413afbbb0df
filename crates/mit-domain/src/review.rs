//! Minutes reviewed like a pull request.

use mit_api::server::ReviewApi;

use crate::Mit;

impl ReviewApi for Mit {}
