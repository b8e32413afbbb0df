//! Contract types → Rust types, validators and docs, shared by the model and operation emitters.

use proc_macro2::{Ident, Span, TokenStream};
use quote::quote;

use crate::ir::{Constraints, StrFormat, Ty};

/// A Rust identifier, raw if it is a keyword.
pub fn ident(name: &str) -> Ident {
    match syn::parse_str::<Ident>(name) {
        Ok(ident) => ident,
        Err(_) => Ident::new_raw(name, Span::call_site()),
    }
}

/// The Rust type of a contract type; named types are qualified unless used inside `models`.
pub fn rust_type(ty: &Ty, in_models: bool) -> TokenStream {
    match ty {
        Ty::String(StrFormat::Plain) => quote!(::std::string::String),
        Ty::String(StrFormat::Uuid) => quote!(::uuid::Uuid),
        Ty::String(StrFormat::DateTime) => quote!(::chrono::DateTime<::chrono::Utc>),
        Ty::String(StrFormat::Email) => quote!(::poem_openapi::types::Email),
        Ty::String(StrFormat::Password) => quote!(::poem_openapi::types::Password),
        Ty::String(StrFormat::Uri) => quote!(crate::server::runtime::Uri),
        Ty::Int32 => quote!(i32),
        Ty::Int64 => quote!(i64),
        Ty::Boolean => quote!(bool),
        Ty::Array(inner) => {
            let inner = rust_type(inner, in_models);
            quote!(::std::vec::Vec<#inner>)
        }
        Ty::Named(name) => {
            let name = ident(name);
            if in_models { quote!(#name) } else { quote!(crate::server::models::#name) }
        }
        Ty::FreeForm => quote!(::std::collections::BTreeMap<::std::string::String, ::serde_json::Value>),
    }
}

/// `validator(...)` arguments for poem-openapi, or nothing.
pub fn validators(constraints: &Constraints) -> Option<TokenStream> {
    let mut parts = Vec::new();
    if let Some(n) = constraints.min_length {
        parts.push(quote!(min_length = #n));
    }
    if let Some(n) = constraints.max_length {
        parts.push(quote!(max_length = #n));
    }
    if let Some(p) = &constraints.pattern {
        parts.push(quote!(pattern = #p));
    }
    if let Some(n) = constraints.minimum {
        let n = n.to_string();
        parts.push(quote!(minimum(value = #n)));
    }
    if let Some(n) = constraints.maximum {
        let n = n.to_string();
        parts.push(quote!(maximum(value = #n)));
    }
    if let Some(n) = constraints.min_items {
        parts.push(quote!(min_items = #n));
    }
    if let Some(n) = constraints.max_items {
        parts.push(quote!(max_items = #n));
    }
    if constraints.unique_items {
        parts.push(quote!(unique_items = true));
    }
    (!parts.is_empty()).then(|| quote!(validator(#(#parts),*)))
}

/// `#[doc = "…"]`, or nothing.
pub fn doc(text: Option<&str>) -> TokenStream {
    match text.map(str::trim).filter(|t| !t.is_empty()) {
        Some(text) => quote!(#[doc = #text]),
        None => quote!(),
    }
}
