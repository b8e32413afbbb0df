//! The client half: progenitor's builder-style client, one method per operation.

use openapiv3::OpenAPI;
use proc_macro2::TokenStream;

use crate::CodegenError;

/// The progenitor client for `spec`.
pub fn emit(spec: &OpenAPI) -> Result<TokenStream, CodegenError> {
    let mut settings = progenitor::GenerationSettings::default();
    settings.with_interface(progenitor::InterfaceStyle::Builder).with_tag(progenitor::TagStyle::Merged);
    progenitor::Generator::new(&settings).generate_tokens(spec).map_err(|e| CodegenError::Client(e.to_string()))
}
