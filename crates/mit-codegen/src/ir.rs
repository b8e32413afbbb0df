//! The contract reduced to what the emitters need: named models, and operations with typed
//! parameters, bodies and responses. Building it is where anything outside the supported subset
//! is rejected, naming the place in the contract.

use openapiv3::{
    AdditionalProperties, IntegerFormat, OpenAPI, Operation as OaOperation, Parameter, ParameterSchemaOrContent, ReferenceOr, RequestBody,
    Response, Schema, SchemaKind, StatusCode, StringFormat, Type, VariantOrUnknownOrEmpty,
};
use serde_json::Value;

use crate::CodegenError;

/// The whole contract.
#[derive(Debug)]
pub struct Api {
    pub title: String,
    pub version: String,
    pub description: Option<String>,
    pub license: Option<String>,
    pub tags: Vec<Tag>,
    pub objects: Vec<ObjectDef>,
    pub enums: Vec<EnumDef>,
    pub operations: Vec<Operation>,
    pub security_scheme: Option<SecuritySchemeDef>,
}

/// A tag, i.e. one handler trait.
#[derive(Debug)]
pub struct Tag {
    pub name: String,
    pub description: Option<String>,
}

/// The bearer scheme every secured operation uses.
#[derive(Debug)]
pub struct SecuritySchemeDef {
    pub name: String,
    pub bearer_format: Option<String>,
    pub description: Option<String>,
}

/// A named object schema.
#[derive(Debug)]
pub struct ObjectDef {
    pub name: String,
    pub description: Option<String>,
    pub fields: Vec<Field>,
}

/// One property of an object.
#[derive(Debug)]
pub struct Field {
    pub name: String,
    pub ty: Ty,
    pub required: bool,
    pub nullable: bool,
    pub description: Option<String>,
    pub constraints: Constraints,
}

/// A named string enum.
#[derive(Debug)]
pub struct EnumDef {
    pub name: String,
    pub description: Option<String>,
    pub values: Vec<String>,
}

/// The shape of a value.
#[derive(Debug, Clone, PartialEq)]
pub enum Ty {
    String(StrFormat),
    Int32,
    Int64,
    Boolean,
    Array(Box<Ty>),
    Named(String),
    /// A free-form JSON object (`additionalProperties: true`).
    FreeForm,
}

/// String formats with a Rust type of their own.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum StrFormat {
    Plain,
    Uuid,
    DateTime,
    Email,
    Uri,
    Password,
}

/// Validation keywords.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Constraints {
    pub min_length: Option<usize>,
    pub max_length: Option<usize>,
    pub pattern: Option<String>,
    pub minimum: Option<i64>,
    pub maximum: Option<i64>,
    pub min_items: Option<usize>,
    pub max_items: Option<usize>,
    pub unique_items: bool,
    /// Constraints on array elements.
    pub items: Option<Box<Constraints>>,
}

/// One operation.
#[derive(Debug)]
pub struct Operation {
    pub id: String,
    pub method: String,
    pub path: String,
    pub tag: String,
    pub summary: String,
    pub description: Option<String>,
    pub deprecated: bool,
    pub secured: bool,
    pub params: Vec<Param>,
    pub body: Option<Body>,
    pub responses: Vec<ResponseDef>,
}

/// Where a parameter travels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ParamLocation {
    Path,
    Query,
    Header,
}

/// A path, query or header parameter.
#[derive(Debug)]
pub struct Param {
    pub name: String,
    pub location: ParamLocation,
    pub ty: Ty,
    pub required: bool,
    pub default: Option<Value>,
    pub description: Option<String>,
    pub constraints: Constraints,
}

/// A JSON request body.
#[derive(Debug)]
pub struct Body {
    pub schema: String,
    pub description: Option<String>,
}

/// One documented status of an operation.
#[derive(Debug)]
pub struct ResponseDef {
    pub status: u16,
    pub description: String,
    pub content: ResponseContent,
    pub headers: Vec<HeaderDef>,
}

/// What a response carries.
#[derive(Debug, Clone, PartialEq)]
pub enum ResponseContent {
    Empty,
    Json(String),
    /// A file download in one of these media types.
    Binary(Vec<String>),
}

/// A response header.
#[derive(Debug)]
pub struct HeaderDef {
    pub name: String,
    pub ty: Ty,
}

impl Api {
    /// Reduces `spec` to the IR, or says what the generators cannot handle.
    pub fn from_spec(spec: &OpenAPI) -> Result<Self, CodegenError> {
        let mut objects = Vec::new();
        let mut enums = Vec::new();
        if let Some(components) = &spec.components {
            for (name, schema) in &components.schemas {
                let at = format!("#/components/schemas/{name}");
                let schema = item(schema, &at)?;
                match &schema.schema_kind {
                    SchemaKind::Type(Type::Object(object)) => objects.push(ObjectDef {
                        name: name.clone(),
                        description: schema.schema_data.description.clone(),
                        fields: object_fields(object, &at)?,
                    }),
                    SchemaKind::Type(Type::String(s)) if !s.enumeration.is_empty() => enums.push(EnumDef {
                        name: name.clone(),
                        description: schema.schema_data.description.clone(),
                        values: s.enumeration.iter().flatten().cloned().collect(),
                    }),
                    _ => return Err(unsupported(&at, "component schemas must be objects or string enums")),
                }
            }
        }
        let mut operations = Vec::new();
        for (path, path_item) in &spec.paths.paths {
            let at = format!("#/paths/{path}");
            let path_item = item(path_item, &at)?;
            for (method, op) in path_item.iter() {
                operations.push(operation(spec, path, method, op, &path_item.parameters, &format!("{at}/{method}"))?);
            }
        }
        Ok(Api {
            title: spec.info.title.clone(),
            version: spec.info.version.clone(),
            description: spec.info.description.clone(),
            license: spec.info.license.as_ref().map(|l| l.name.clone()),
            tags: spec.tags.iter().map(|t| Tag { name: t.name.clone(), description: t.description.clone() }).collect(),
            objects,
            enums,
            operations,
            security_scheme: security_scheme(spec),
        })
    }

    /// The operations of one tag, in contract order.
    pub fn operations_of<'a>(&'a self, tag: &'a str) -> impl Iterator<Item = &'a Operation> + 'a {
        self.operations.iter().filter(move |op| op.tag == tag)
    }
}

fn security_scheme(spec: &OpenAPI) -> Option<SecuritySchemeDef> {
    let components = spec.components.as_ref()?;
    let (name, scheme) = components.security_schemes.iter().next()?;
    match scheme {
        ReferenceOr::Item(openapiv3::SecurityScheme::HTTP { scheme, bearer_format, description, .. }) if scheme == "bearer" => {
            Some(SecuritySchemeDef { name: name.clone(), bearer_format: bearer_format.clone(), description: description.clone() })
        }
        _ => None,
    }
}

fn unsupported(at: &str, what: &str) -> CodegenError {
    CodegenError::Unsupported { at: at.to_string(), what: what.to_string() }
}

fn item<'a, T>(value: &'a ReferenceOr<T>, at: &str) -> Result<&'a T, CodegenError> {
    match value {
        ReferenceOr::Item(item) => Ok(item),
        ReferenceOr::Reference { reference } => Err(unsupported(at, &format!("unexpected $ref {reference} (bundle first)"))),
    }
}

fn ref_name(reference: &str) -> String {
    reference.rsplit('/').next().unwrap_or(reference).to_string()
}

/// Follows a `#/components/<kind>/<Name>` ref.
fn component<'a, T>(
    map: Option<&'a indexmap::IndexMap<String, ReferenceOr<T>>>,
    value: &'a ReferenceOr<T>,
    at: &str,
) -> Result<&'a T, CodegenError> {
    match value {
        ReferenceOr::Item(item) => Ok(item),
        ReferenceOr::Reference { reference } => {
            let name = ref_name(reference);
            let target = map.and_then(|m| m.get(&name)).ok_or_else(|| unsupported(at, &format!("dangling $ref {reference}")))?;
            item(target, at)
        }
    }
}

fn object_fields(object: &openapiv3::ObjectType, at: &str) -> Result<Vec<Field>, CodegenError> {
    object
        .properties
        .iter()
        .map(|(name, property)| {
            let at = format!("{at}/properties/{name}");
            let (ty, constraints, data) = match property {
                ReferenceOr::Reference { reference } => (Ty::Named(ref_name(reference)), Constraints::default(), None),
                ReferenceOr::Item(schema) => {
                    let (ty, constraints) = value_type(schema, &at)?;
                    (ty, constraints, Some(&schema.schema_data))
                }
            };
            Ok(Field {
                name: name.clone(),
                ty,
                required: object.required.contains(name),
                nullable: data.is_some_and(|d| d.nullable),
                description: data.and_then(|d| d.description.clone()),
                constraints,
            })
        })
        .collect()
}

/// The type and constraints of an inline (non-ref) schema.
fn value_type(schema: &Schema, at: &str) -> Result<(Ty, Constraints), CodegenError> {
    let mut constraints = Constraints::default();
    let ty = match &schema.schema_kind {
        SchemaKind::Type(Type::String(s)) => {
            if !s.enumeration.is_empty() {
                return Err(unsupported(at, "inline enums must be named schemas"));
            }
            constraints.min_length = s.min_length;
            constraints.max_length = s.max_length;
            constraints.pattern = s.pattern.clone();
            Ty::String(string_format(&s.format, at)?)
        }
        SchemaKind::Type(Type::Integer(i)) => {
            constraints.minimum = i.minimum;
            constraints.maximum = i.maximum;
            match &i.format {
                VariantOrUnknownOrEmpty::Item(IntegerFormat::Int32) => Ty::Int32,
                VariantOrUnknownOrEmpty::Item(IntegerFormat::Int64) => Ty::Int64,
                _ => return Err(unsupported(at, "integers need format int32 or int64")),
            }
        }
        SchemaKind::Type(Type::Boolean(_)) => Ty::Boolean,
        SchemaKind::Type(Type::Array(a)) => {
            constraints.min_items = a.min_items;
            constraints.max_items = a.max_items;
            constraints.unique_items = a.unique_items;
            let element = match &a.items {
                Some(ReferenceOr::Reference { reference }) => Ty::Named(ref_name(reference)),
                Some(ReferenceOr::Item(items)) => {
                    let (ty, inner) = value_type(items, &format!("{at}/items"))?;
                    if inner != Constraints::default() {
                        constraints.items = Some(Box::new(inner));
                    }
                    ty
                }
                None => return Err(unsupported(at, "arrays need items")),
            };
            Ty::Array(Box::new(element))
        }
        SchemaKind::Type(Type::Object(o))
            if o.properties.is_empty() && matches!(o.additional_properties, Some(AdditionalProperties::Any(true))) =>
        {
            Ty::FreeForm
        }
        _ => return Err(unsupported(at, "only string, integer, boolean, array, $ref and free-form objects are supported")),
    };
    Ok((ty, constraints))
}

fn string_format(format: &VariantOrUnknownOrEmpty<StringFormat>, at: &str) -> Result<StrFormat, CodegenError> {
    Ok(match format {
        VariantOrUnknownOrEmpty::Empty => StrFormat::Plain,
        VariantOrUnknownOrEmpty::Item(StringFormat::DateTime) => StrFormat::DateTime,
        VariantOrUnknownOrEmpty::Item(StringFormat::Password) => StrFormat::Password,
        VariantOrUnknownOrEmpty::Unknown(f) if f == "uuid" => StrFormat::Uuid,
        VariantOrUnknownOrEmpty::Unknown(f) if f == "email" => StrFormat::Email,
        VariantOrUnknownOrEmpty::Unknown(f) if f == "uri" => StrFormat::Uri,
        other => return Err(unsupported(at, &format!("string format {other:?} is not supported here"))),
    })
}

fn operation(
    spec: &OpenAPI,
    path: &str,
    method: &str,
    op: &OaOperation,
    shared: &[ReferenceOr<Parameter>],
    at: &str,
) -> Result<Operation, CodegenError> {
    let components = spec.components.as_ref();
    let id = op.operation_id.clone().ok_or_else(|| unsupported(at, "operation has no operationId"))?;
    let tag = match op.tags.as_slice() {
        [tag] => tag.clone(),
        _ => return Err(unsupported(at, "operation must have exactly one tag")),
    };
    let secured = match &op.security {
        Some(requirements) => !requirements.is_empty(),
        None => spec.security.as_ref().is_some_and(|s| !s.is_empty()),
    };
    let mut params: Vec<Param> = Vec::new();
    for param in shared.iter().chain(&op.parameters) {
        let param = component(components.map(|c| &c.parameters), param, at)?;
        let param = parameter(components, param, at)?;
        params.retain(|p| !(p.name == param.name && p.location == param.location));
        params.push(param);
    }
    let body = match &op.request_body {
        Some(body) => Some(request_body(component(components.map(|c| &c.request_bodies), body, at)?, at)?),
        None => None,
    };
    let mut responses = Vec::new();
    for (status, response) in &op.responses.responses {
        let StatusCode::Code(code) = status else { return Err(unsupported(at, "status ranges are not supported")) };
        let response = component(components.map(|c| &c.responses), response, at)?;
        responses.push(response_def(components, *code, response, &format!("{at}/responses/{code}"))?);
    }
    if op.responses.default.is_some() {
        return Err(unsupported(at, "no `default` responses"));
    }
    responses.sort_by_key(|r| r.status);
    Ok(Operation {
        id,
        method: method.to_string(),
        path: path.to_string(),
        tag,
        summary: op.summary.clone().unwrap_or_default(),
        description: op.description.clone(),
        deprecated: op.deprecated,
        secured,
        params,
        body,
        responses,
    })
}

fn parameter(components: Option<&openapiv3::Components>, param: &Parameter, at: &str) -> Result<Param, CodegenError> {
    let (location, data) = match param {
        Parameter::Path { parameter_data, .. } => (ParamLocation::Path, parameter_data),
        Parameter::Query { parameter_data, .. } => (ParamLocation::Query, parameter_data),
        Parameter::Header { parameter_data, .. } => (ParamLocation::Header, parameter_data),
        Parameter::Cookie { .. } => return Err(unsupported(at, "cookie parameters are not supported")),
    };
    let at = format!("{at}/parameters/{}", data.name);
    let ParameterSchemaOrContent::Schema(schema) = &data.format else {
        return Err(unsupported(&at, "parameters need a schema"));
    };
    let (ty, constraints, default) = match schema {
        ReferenceOr::Reference { reference } => {
            let name = ref_name(reference);
            let _ = component(components.map(|c| &c.schemas), schema, &at)?;
            (Ty::Named(name), Constraints::default(), None)
        }
        ReferenceOr::Item(schema) => {
            let (ty, constraints) = value_type(schema, &at)?;
            (ty, constraints, schema.schema_data.default.clone())
        }
    };
    Ok(Param {
        name: data.name.clone(),
        location,
        ty,
        required: data.required || location == ParamLocation::Path,
        default,
        description: data.description.clone(),
        constraints,
    })
}

fn request_body(body: &RequestBody, at: &str) -> Result<Body, CodegenError> {
    let media = body.content.get("application/json").ok_or_else(|| unsupported(at, "request bodies must be application/json"))?;
    match &media.schema {
        Some(ReferenceOr::Reference { reference }) => Ok(Body { schema: ref_name(reference), description: body.description.clone() }),
        _ => Err(unsupported(at, "request body schemas must be a $ref to a named schema")),
    }
}

fn response_def(
    components: Option<&openapiv3::Components>,
    status: u16,
    response: &Response,
    at: &str,
) -> Result<ResponseDef, CodegenError> {
    let content = if response.content.is_empty() {
        ResponseContent::Empty
    } else if let Some(media) = response.content.get("application/json") {
        match &media.schema {
            Some(ReferenceOr::Reference { reference }) => ResponseContent::Json(ref_name(reference)),
            _ => return Err(unsupported(at, "JSON responses must be a $ref to a named schema")),
        }
    } else {
        ResponseContent::Binary(response.content.keys().cloned().collect())
    };
    let mut headers = Vec::new();
    for (name, header) in &response.headers {
        let header = component(components.map(|c| &c.headers), header, at)?;
        let ParameterSchemaOrContent::Schema(ReferenceOr::Item(schema)) = &header.format else {
            return Err(unsupported(at, "response headers need an inline schema"));
        };
        let (ty, _) = value_type(schema, &format!("{at}/headers/{name}"))?;
        headers.push(HeaderDef { name: name.clone(), ty });
    }
    Ok(ResponseDef { status, description: response.description.clone(), content, headers })
}
