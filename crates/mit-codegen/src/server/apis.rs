//! Per tag: the handler trait the domain implements, and the generic poem-openapi adapter that
//! routes, extracts, authenticates and maps errors onto the declared statuses. Plus the tags,
//! the security scheme, the service constructor, the spec stub and the operation table.

use heck::{ToSnakeCase, ToUpperCamelCase};
use proc_macro2::{Ident, TokenStream};
use quote::quote;

use super::ops::param_type;
use super::types::{doc, ident, rust_type, validators};
use crate::ir::{Api, Operation, Param, ParamLocation, Tag};

/// Tags, security scheme, traits, adapters, `MitApi`, `openapi_service`, `SpecStub`, `OPERATIONS`.
pub fn emit(api: &Api) -> TokenStream {
    let tags = tags_enum(&api.tags);
    let scheme = security_scheme(api);
    let traits = api.tags.iter().map(|t| handler_trait(api, t));
    let adapters = api.tags.iter().map(|t| adapter(api, t));
    let service = service(api);
    let table = operation_table(api);
    quote! {
        #tags
        #scheme
        #(#traits)*
        #(#adapters)*
        #service
        #table
    }
}

fn trait_name(tag: &str) -> Ident {
    ident(&format!("{}Api", tag.to_upper_camel_case()))
}

fn adapter_name(tag: &str) -> Ident {
    ident(&format!("{}ApiAdapter", tag.to_upper_camel_case()))
}

fn tags_enum(tags: &[Tag]) -> TokenStream {
    let variants = tags.iter().map(|t| {
        let variant = ident(&t.name.to_upper_camel_case());
        let name = &t.name;
        let docs = doc(t.description.as_deref());
        quote! { #docs #[oai(rename = #name)] #variant, }
    });
    quote! {
        /// The contract's tags; one handler trait each.
        #[derive(Debug, Clone, Copy, ::poem_openapi::Tags)]
        pub enum ApiTags {
            #(#variants)*
        }
    }
}

fn security_scheme(api: &Api) -> TokenStream {
    let Some(scheme) = &api.security_scheme else { return quote!() };
    let name = &scheme.name;
    let docs = doc(scheme.description.as_deref());
    let format = scheme.bearer_format.as_ref().map(|f| quote!(, bearer_format = #f));
    quote! {
        #docs
        #[derive(::poem_openapi::SecurityScheme)]
        #[oai(rename = #name, ty = "bearer" #format)]
        pub struct BearerAuth(pub ::poem_openapi::auth::Bearer);
    }
}

fn operation_doc(op: &Operation) -> TokenStream {
    let text = match &op.description {
        Some(description) => format!("{}\n\n{}", op.summary.trim(), description.trim()),
        None => op.summary.trim().to_string(),
    };
    quote!(#[doc = #text])
}

fn handler_trait(api: &Api, tag: &Tag) -> TokenStream {
    let name = trait_name(&tag.name);
    let title = format!("The operations tagged `{}`. Each method defaults to 501 `not_implemented`.", tag.name);
    let methods = api.operations_of(&tag.name).map(|op| {
        let method = ident(&op.id.to_snake_case());
        let module = ident(&op.id.to_snake_case());
        let docs = operation_doc(op);
        let op_id = &op.id;
        let caller = op.secured.then(|| quote!(_caller: &Self::Caller,));
        quote! {
            #docs
            fn #method(&self, #caller _request: ops::#module::Request)
                -> impl ::std::future::Future<Output = ::std::result::Result<ops::#module::Response, crate::server::runtime::ApiError>> + Send
            {
                async move { ::std::result::Result::Err(crate::server::runtime::ApiError::not_implemented(#op_id)) }
            }
        }
    });
    quote! {
        #[doc = #title]
        pub trait #name: crate::server::runtime::Authenticator {
            #(#methods)*
        }
    }
}

fn adapter(api: &Api, tag: &Tag) -> TokenStream {
    let name = adapter_name(&tag.name);
    let handler = trait_name(&tag.name);
    let tag_variant = format!("ApiTags::{}", tag.name.to_upper_camel_case());
    let methods = api.operations_of(&tag.name).map(adapter_method);
    let title = format!("Serves the `{}` operations of a [`{handler}`] implementation.", tag.name);
    quote! {
        #[doc = #title]
        pub struct #name<T>(pub ::std::sync::Arc<T>);

        #[::poem_openapi::OpenApi(tag = #tag_variant)]
        impl<T: #handler> #name<T> {
            #(#methods)*
        }
    }
}

fn adapter_method(op: &Operation) -> TokenStream {
    let method = ident(&op.id.to_snake_case());
    let module = ident(&op.id.to_snake_case());
    let docs = operation_doc(op);
    let path = op.path.split('/').map(|s| match s.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
        Some(var) => format!(":{var}"),
        None => s.to_string(),
    });
    let path = path.collect::<Vec<_>>().join("/");
    let http_method = &op.method;
    let op_id = &op.id;
    let deprecated = op.deprecated.then(|| quote!(, deprecated));
    let auth_arg = op.secured.then(|| quote!(auth: BearerAuth,));
    let params = op.params.iter().map(|p| param_arg(&op.id, p));
    let body_arg = op.body.as_ref().map(|b| {
        let ty = rust_type(&crate::ir::Ty::Named(b.schema.clone()), false);
        let docs = doc(b.description.as_deref());
        quote!(#docs body: crate::server::runtime::JsonBody<#ty>,)
    });
    let fields = op.params.iter().map(|p| {
        let field = ident(&p.name.to_snake_case());
        quote!(#field: #field.0,)
    });
    let body_field = op.body.as_ref().map(|_| quote!(body: body.0,));
    let call = if op.secured {
        quote! {
            match self.0.authenticate(&auth.0.token, &request.context).await {
                ::std::result::Result::Ok(caller) => {
                    crate::server::runtime::record_caller(&caller);
                    self.0.#method(&caller, request).await
                }
                ::std::result::Result::Err(error) => ::std::result::Result::Err(error),
            }
        }
    } else {
        quote!(self.0.#method(request).await)
    };
    quote! {
        #docs
        #[oai(path = #path, method = #http_method, operation_id = #op_id #deprecated)]
        async fn #method(
            &self,
            raw_request: &::poem::Request,
            #auth_arg
            #(#params)*
            #body_arg
        ) -> ::poem::Result<ops::#module::Response> {
            crate::server::runtime::enter_operation(#op_id);
            let request = ops::#module::Request {
                #(#fields)*
                #body_field
                context: crate::server::runtime::RequestContext::from_request(raw_request),
            };
            let outcome = #call;
            crate::server::runtime::respond(outcome, ops::#module::Response::from_error)
        }
    }
}

fn param_arg(op_id: &str, p: &Param) -> TokenStream {
    let field = ident(&p.name.to_snake_case());
    let name = &p.name;
    let ty = param_type(p);
    let wrapper = match p.location {
        ParamLocation::Path => quote!(::poem_openapi::param::Path),
        ParamLocation::Query => quote!(::poem_openapi::param::Query),
        ParamLocation::Header => quote!(::poem_openapi::param::Header),
    };
    let mut attrs = vec![quote!(name = #name)];
    if p.default.is_some() {
        let default = format!("ops::{}::default_{}", op_id.to_snake_case(), p.name.to_snake_case());
        attrs.push(quote!(default = #default));
    }
    if let Some(v) = validators(&p.constraints) {
        attrs.push(v);
    }
    let docs = doc(p.description.as_deref());
    quote!(#docs #[oai(#(#attrs),*)] #field: #wrapper<#ty>,)
}

fn service(api: &Api) -> TokenStream {
    let traits: Vec<Ident> = api.tags.iter().map(|t| trait_name(&t.name)).collect();
    let adapters: Vec<Ident> = api.tags.iter().map(|t| adapter_name(&t.name)).collect();
    let title = &api.title;
    let version = &api.version;
    let description = api.description.as_ref().map(|d| {
        let d = d.trim();
        quote!(.description(#d))
    });
    let license = api.license.as_ref().map(|l| quote!(.license(::poem_openapi::LicenseObject::new(#l))));
    quote! {
        /// Everything the contract declares; implement it on one type and serve it with
        /// [`openapi_service`].
        pub trait MitApi: #(#traits)+* {}
        impl<T: #(#traits)+*> MitApi for T {}

        /// The contract's operations served by `api`, with the contract's info.
        pub fn openapi_service<T: MitApi>(api: ::std::sync::Arc<T>) -> ::poem_openapi::OpenApiService<(#(#adapters<T>,)*), ()> {
            ::poem_openapi::OpenApiService::new((#(#adapters(api.clone()),)*), #title, #version)
                #description
                #license
        }

        /// Implements every trait with its 501 defaults, so the served spec can be printed
        /// without a database.
        #[derive(Debug, Clone, Copy, Default)]
        pub struct SpecStub;

        impl crate::server::runtime::Authenticator for SpecStub {
            type Caller = &'static str;

            async fn authenticate(&self, _token: &str, _context: &crate::server::runtime::RequestContext) -> ::std::result::Result<&'static str, crate::server::runtime::ApiError> {
                ::std::result::Result::Ok("spec-stub")
            }
        }

        #( impl #traits for SpecStub {} )*
    }
}

fn operation_table(api: &Api) -> TokenStream {
    let rows = api.operations.iter().map(|op| {
        let id = &op.id;
        let method = op.method.to_uppercase();
        let path = &op.path;
        let tag = &op.tag;
        let secured = op.secured;
        quote! {
            crate::server::runtime::OperationInfo { id: #id, method: #method, path: #path, tag: #tag, secured: #secured },
        }
    });
    quote! {
        /// Every operation of the contract, in contract order.
        pub const OPERATIONS: &[crate::server::runtime::OperationInfo] = &[#(#rows)*];
    }
}
