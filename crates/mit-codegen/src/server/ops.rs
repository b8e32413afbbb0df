//! `ops::<operation>`: per operation a `Request` (typed inputs) and a `Response` enum with one
//! variant per documented status, so a handler cannot return what the contract does not allow.

use heck::{ToSnakeCase, ToUpperCamelCase};
use proc_macro2::TokenStream;
use quote::quote;

use super::types::{doc, ident, rust_type};
use crate::ir::{Api, Operation, Param, ParamLocation, ResponseContent, ResponseDef, StrFormat, Ty};

/// The `ops` module.
pub fn emit(api: &Api) -> TokenStream {
    let modules = api.operations.iter().map(operation);
    quote! {
        /// Per operation: its inputs (`Request`) and every response it may give (`Response`).
        pub mod ops {
            #(#modules)*
        }
    }
}

/// The variant name for a status.
pub fn variant_name(status: u16) -> proc_macro2::Ident {
    let name = match status {
        200 => "Ok",
        201 => "Created",
        202 => "Accepted",
        204 => "NoContent",
        206 => "PartialContent",
        400 => "BadRequest",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "NotFound",
        405 => "MethodNotAllowed",
        409 => "Conflict",
        413 => "PayloadTooLarge",
        416 => "RangeNotSatisfiable",
        422 => "UnprocessableEntity",
        429 => "TooManyRequests",
        500 => "InternalError",
        501 => "NotImplemented",
        503 => "ServiceUnavailable",
        other => return ident(&format!("Status{other}")),
    };
    ident(name)
}

/// The Rust type a parameter has in the `Request` struct; free text is `runtime::Text`.
pub fn param_type(param: &Param) -> TokenStream {
    let inner = match &param.ty {
        Ty::String(StrFormat::Plain) => quote!(crate::server::runtime::Text),
        other => rust_type(other, false),
    };
    if param.required || param.default.is_some() { inner } else { quote!(::std::option::Option<#inner>) }
}

fn operation(op: &Operation) -> TokenStream {
    let module = ident(&op.id.to_snake_case());
    let title = format!("`{}`", op.id);
    let request = request(op);
    let response = response(op);
    let defaults = op.params.iter().filter_map(default_fn);
    let media = media_types(op);
    quote! {
        #[doc = #title]
        pub mod #module {
            #request
            #response
            #media
            #(#defaults)*
        }
    }
}

/// The media types of the operation's file download, if it has one.
fn media_types(op: &Operation) -> Option<TokenStream> {
    let types = op.responses.iter().find_map(|r| match &r.content {
        ResponseContent::Binary(types) => Some(types.clone()),
        _ => None,
    })?;
    Some(quote! {
        /// The media types this operation's download declares.
        #[derive(Debug)]
        pub struct Media;

        impl crate::server::runtime::MediaTypes for Media {
            const TYPES: &'static [&'static str] = &[#(#types),*];
        }
    })
}

fn request(op: &Operation) -> TokenStream {
    let fields = op.params.iter().map(|p| {
        let name = ident(&p.name.to_snake_case());
        let ty = param_type(p);
        let docs = doc(p.description.as_deref());
        quote! { #docs pub #name: #ty, }
    });
    let body = op.body.as_ref().map(|b| {
        let ty = rust_type(&Ty::Named(b.schema.clone()), false);
        quote! {
            /// The request body.
            pub body: #ty,
        }
    });
    let title = format!("The inputs of `{}`.", op.id);
    quote! {
        #[doc = #title]
        #[derive(Debug, Clone)]
        pub struct Request {
            #(#fields)*
            #body
            /// Who called and from where.
            pub context: crate::server::runtime::RequestContext,
        }
    }
}

fn response(op: &Operation) -> TokenStream {
    let path_params = op.params.iter().filter(|p| p.location == ParamLocation::Path).map(|p| p.name.as_str());
    let variants = op.responses.iter().map(variant);
    let error_arms = op.responses.iter().filter(|r| r.status >= 400).map(error_arm);
    let title = format!("Every response `{}` may give.", op.id);
    quote! {
        #[doc = #title]
        #[derive(Debug, ::poem_openapi::ApiResponse)]
        #[oai(bad_request_handler = "bad_request")]
        pub enum Response {
            #(#variants)*
        }

        impl Response {
            /// The variant this operation declares for `error`'s status, or the error back when
            /// the contract declares no such status here.
            pub fn from_error(error: crate::server::runtime::ApiError) -> ::std::result::Result<Self, crate::server::runtime::ApiError> {
                ::std::result::Result::Ok(match error.status() {
                    #(#error_arms)*
                    _ => return ::std::result::Result::Err(error),
                })
            }
        }

        fn bad_request(error: ::poem::Error) -> Response {
            let error = crate::server::runtime::ApiError::from_extraction(error, &[#(#path_params),*]);
            Response::from_error(error).unwrap_or_else(|error| Response::InternalError(::poem_openapi::payload::Json(error.into_body())))
        }
    }
}

fn variant(response: &ResponseDef) -> TokenStream {
    let name = variant_name(response.status);
    let status = proc_macro2::Literal::u16_unsuffixed(response.status);
    let docs = doc(Some(&response.description));
    let payload = match &response.content {
        ResponseContent::Empty => None,
        ResponseContent::Json(schema) => {
            let ty = rust_type(&Ty::Named(schema.clone()), false);
            Some(quote!(::poem_openapi::payload::Json<#ty>))
        }
        ResponseContent::Binary(_) => Some(quote!(crate::server::runtime::FileBody<Media>)),
    };
    let headers = response.headers.iter().map(|h| {
        let header = &h.name;
        let ty = rust_type(&h.ty, false);
        quote!(#[oai(header = #header)] #ty)
    });
    let fields: Vec<TokenStream> = payload.into_iter().chain(headers).collect();
    if fields.is_empty() {
        quote! { #docs #[oai(status = #status)] #name, }
    } else {
        quote! { #docs #[oai(status = #status)] #name(#(#fields),*), }
    }
}

/// How an `ApiError` fills an error variant: the body, plus the headers the contract declares.
fn error_arm(response: &ResponseDef) -> TokenStream {
    let name = variant_name(response.status);
    let status = proc_macro2::Literal::u16_unsuffixed(response.status);
    let headers = response.headers.iter().map(|h| match h.name.to_ascii_lowercase().as_str() {
        "www-authenticate" => quote!(error.www_authenticate()),
        "retry-after" => quote!(error.retry_after_seconds()),
        "content-range" => quote!(error.content_range()),
        other => {
            let message = format!("no ApiError value for response header `{other}`");
            quote!(compile_error!(#message))
        }
    });
    quote! {
        #status => Self::#name(::poem_openapi::payload::Json(error.body()), #(#headers),*),
    }
}

fn default_fn(param: &Param) -> Option<TokenStream> {
    let value = param.default.as_ref()?;
    let name = ident(&format!("default_{}", param.name.to_snake_case()));
    let ty = param_type(param);
    let literal = match (&param.ty, value) {
        (Ty::Int32 | Ty::Int64, serde_json::Value::Number(n)) => {
            let n: TokenStream = n.to_string().parse().unwrap_or_default();
            quote!(#n)
        }
        (Ty::Boolean, serde_json::Value::Bool(b)) => quote!(#b),
        (Ty::String(_), serde_json::Value::String(s)) => quote!(::std::convert::From::from(#s)),
        (Ty::Named(_), serde_json::Value::String(s)) => {
            let variant = ident(&s.to_upper_camel_case());
            quote!(#ty::#variant)
        }
        _ => quote!(compile_error!("unsupported parameter default")),
    };
    Some(quote! {
        /// The contract's default for this parameter.
        pub fn #name() -> #ty {
            #literal
        }
    })
}
