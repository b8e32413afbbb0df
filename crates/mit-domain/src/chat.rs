//! The meeting room's chat history.

use mit_api::server::ChatApi;

use crate::Mit;

impl ChatApi for Mit {}
