//! A team's Ground Truth.

use mit_api::server::KnowledgeApi;

use crate::Mit;

impl KnowledgeApi for Mit {}
