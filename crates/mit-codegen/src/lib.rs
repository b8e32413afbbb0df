//! Turns Mit's bundled OpenAPI contract into Rust source: the poem-openapi server (models,
//! per-operation request/response types, one handler trait per tag and its adapter) and the
//! progenitor client. Called by the top-level `build.rs`; the output lives in `OUT_DIR`.

mod client;
mod ir;
mod server;

use openapiv3::OpenAPI;
use proc_macro2::TokenStream;

/// Why code could not be generated.
#[derive(Debug, thiserror::Error)]
pub enum CodegenError {
    /// The contract uses something the generator does not support.
    #[error("{at}: {what}")]
    Unsupported { at: String, what: String },
    /// progenitor refused the contract.
    #[error("progenitor: {0}")]
    Client(String),
    /// The generated tokens are not valid Rust (a generator bug).
    #[error("generated code does not parse: {0}")]
    Syntax(String),
}

/// The server code for `spec`, formatted.
pub fn generate_server(spec: &OpenAPI) -> Result<String, CodegenError> {
    let api = ir::Api::from_spec(spec)?;
    format(server::emit(&api)?)
}

/// The progenitor client for `spec`, formatted.
pub fn generate_client(spec: &OpenAPI) -> Result<String, CodegenError> {
    format(client::emit(spec)?)
}

fn format(tokens: TokenStream) -> Result<String, CodegenError> {
    let file = syn::parse2::<syn::File>(tokens).map_err(|e| CodegenError::Syntax(e.to_string()))?;
    Ok(prettyplease::unparse(&file))
}
