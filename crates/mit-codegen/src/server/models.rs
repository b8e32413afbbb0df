//! `models`: one poem-openapi `Object` per object schema and one `Enum` per string enum, with
//! strict parsing (no string from a number, no `null` where the contract does not allow it) and
//! the contract's constraints as validators.

use heck::{ToSnakeCase, ToUpperCamelCase};
use proc_macro2::TokenStream;
use quote::quote;

use super::types::{doc, ident, rust_type, validators};
use crate::CodegenError;
use crate::ir::{Api, EnumDef, Field, ObjectDef};

/// The `models` module.
pub fn emit(api: &Api) -> Result<TokenStream, CodegenError> {
    let objects = api.objects.iter().map(object).collect::<Result<Vec<_>, _>>()?;
    let parsers = api.objects.iter().map(field_parsers);
    let enums = api.enums.iter().map(enumeration);
    Ok(quote! {
        /// Every schema of the contract as a Rust type.
        pub mod models {
            #(#objects)*
            #(#enums)*

            /// Per-field strict parsers used by the `Object` derives above.
            mod strict_fields {
                #(#parsers)*
            }
        }
    })
}

fn object(def: &ObjectDef) -> Result<TokenStream, CodegenError> {
    let name = ident(&def.name);
    let rename = &def.name;
    let docs = doc(def.description.as_deref());
    let module = ident(&def.name.to_snake_case());
    let fields = def.fields.iter().map(|f| field(f, &module, &def.name)).collect::<Result<Vec<_>, _>>()?;
    Ok(quote! {
        #docs
        #[derive(Debug, Clone, PartialEq, ::poem_openapi::Object)]
        #[oai(rename = #rename)]
        pub struct #name {
            #(#fields)*
        }
        impl crate::server::runtime::StrictJson for #name {}
    })
}

fn field(f: &Field, module: &proc_macro2::Ident, object: &str) -> Result<TokenStream, CodegenError> {
    if f.constraints.items.is_some() {
        return Err(CodegenError::Unsupported {
            at: format!("#/components/schemas/{object}/properties/{}", f.name),
            what: "constraints on array elements are not supported; name the element schema".into(),
        });
    }
    let name = ident(&f.name);
    let rename = &f.name;
    let docs = doc(f.description.as_deref());
    let inner = rust_type(&f.ty, true);
    let ty = field_type(f, inner);
    let parser = format!("strict_fields::{module}::{}", f.name);
    let mut attrs = vec![quote!(rename = #rename), quote!(deserialize_with = #parser)];
    if !f.required && !f.nullable {
        attrs.push(quote!(skip_serializing_if_is_none));
    }
    if f.nullable {
        attrs.push(quote!(nullable));
    }
    if let Some(v) = validators(&f.constraints) {
        attrs.push(v);
    }
    Ok(quote! {
        #docs
        #[oai(#(#attrs),*)]
        pub #name: #ty,
    })
}

fn field_type(f: &Field, inner: TokenStream) -> TokenStream {
    match (f.required, f.nullable) {
        (true, _) => inner,
        (false, false) => quote!(::std::option::Option<#inner>),
        (false, true) => quote!(::poem_openapi::types::MaybeUndefined<#inner>),
    }
}

fn field_parsers(def: &ObjectDef) -> TokenStream {
    let module = ident(&def.name.to_snake_case());
    let parsers = def.fields.iter().map(|f| {
        let name = ident(&f.name);
        let json_name = &f.name;
        let ty = field_type(f, rust_type(&f.ty, false));
        let function = match (f.required, f.nullable) {
            (true, _) => quote!(required),
            (false, false) => quote!(optional),
            (false, true) => quote!(nullable),
        };
        quote! {
            pub fn #name(value: ::std::option::Option<::serde_json::Value>) -> ::poem_openapi::types::ParseResult<#ty> {
                crate::server::runtime::strict::#function(#json_name, value)
            }
        }
    });
    quote! {
        pub mod #module {
            #(#parsers)*
        }
    }
}

fn enumeration(def: &EnumDef) -> TokenStream {
    let name = ident(&def.name);
    let rename = &def.name;
    let docs = doc(def.description.as_deref());
    let variants: Vec<_> = def.values.iter().map(|v| ident(&v.to_upper_camel_case())).collect();
    let values = &def.values;
    quote! {
        #docs
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, ::poem_openapi::Enum)]
        #[oai(rename = #rename)]
        pub enum #name {
            #( #[oai(rename = #values)] #variants, )*
        }

        impl #name {
            /// Every value, in contract order.
            pub const ALL: &'static [Self] = &[#(Self::#variants),*];

            /// The value as it appears on the wire.
            pub const fn as_str(self) -> &'static str {
                match self {
                    #( Self::#variants => #values, )*
                }
            }
        }

        impl ::std::fmt::Display for #name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::std::str::FromStr for #name {
            type Err = crate::server::runtime::UnknownEnumValue;

            fn from_str(value: &str) -> ::std::result::Result<Self, Self::Err> {
                match value {
                    #( #values => Ok(Self::#variants), )*
                    other => Err(crate::server::runtime::UnknownEnumValue::new(#rename, other)),
                }
            }
        }

        impl crate::server::runtime::StrictJson for #name {}
    }
}
