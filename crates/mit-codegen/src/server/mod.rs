//! The server half: poem-openapi models, per-operation types, handler traits and adapters.

mod apis;
mod models;
mod ops;
mod types;

use proc_macro2::TokenStream;
use quote::quote;

use crate::CodegenError;
use crate::ir::Api;

/// All server code for `api`, to be `include!`d inside `mit_api::server`.
pub fn emit(api: &Api) -> Result<TokenStream, CodegenError> {
    for op in &api.operations {
        if !op.responses.iter().any(|r| r.status == 500) {
            return Err(CodegenError::Unsupported { at: op.id.clone(), what: "every operation must declare 500".into() });
        }
    }
    let models = models::emit(api)?;
    let ops = ops::emit(api);
    let apis = apis::emit(api);
    Ok(quote! {
        #models
        #ops
        #apis
    })
}
