//! Request and response bodies: the JSON request body (400 for bad JSON, 413 past the limit,
//! 422 for a schema mismatch) and file downloads declared with several media types.

use std::marker::PhantomData;

use poem::{IntoResponse, Request, RequestBody, Response};
use poem_openapi::ResponseContent;
use poem_openapi::payload::{ParsePayload, Payload};
use poem_openapi::registry::{MetaMediaType, MetaSchema, MetaSchemaRef, Registry};
use poem_openapi::types::{ParseFromJSON, Type};
use serde_json::Value;

/// The largest request body read, in bytes; set per route as poem data, 1 MiB if unset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyLimit(pub usize);

const DEFAULT_BODY_LIMIT: usize = 1 << 20;

/// A JSON request body parsed strictly into `T`.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonBody<T>(pub T);

/// The body is not JSON (400).
#[derive(Debug, thiserror::Error)]
#[error("malformed JSON body: {reason}")]
pub struct MalformedBody {
    pub(super) reason: String,
}

/// The body is JSON but not what the schema says (422).
#[derive(Debug, thiserror::Error)]
#[error("invalid body: {reason}")]
pub struct InvalidBody {
    pub(super) reason: String,
}

/// The body is larger than the limit (413).
#[derive(Debug, thiserror::Error)]
#[error("body larger than {limit} bytes")]
pub struct BodyTooLarge {
    pub(super) limit: usize,
}

impl poem::error::ResponseError for MalformedBody {
    fn status(&self) -> poem::http::StatusCode {
        poem::http::StatusCode::BAD_REQUEST
    }
}

impl poem::error::ResponseError for InvalidBody {
    fn status(&self) -> poem::http::StatusCode {
        poem::http::StatusCode::UNPROCESSABLE_ENTITY
    }
}

impl poem::error::ResponseError for BodyTooLarge {
    fn status(&self) -> poem::http::StatusCode {
        poem::http::StatusCode::PAYLOAD_TOO_LARGE
    }
}

impl<T: Type> Payload for JsonBody<T> {
    const CONTENT_TYPE: &'static str = "application/json; charset=utf-8";

    fn check_content_type(content_type: &str) -> bool {
        content_type
            .parse::<mime::Mime>()
            .is_ok_and(|m| m.type_() == "application" && (m.subtype() == "json" || m.suffix().is_some_and(|s| s == "json")))
    }

    fn schema_ref() -> MetaSchemaRef {
        T::schema_ref()
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }
}

impl<T: ParseFromJSON> ParsePayload for JsonBody<T> {
    const IS_REQUIRED: bool = true;

    async fn from_request(request: &Request, body: &mut RequestBody) -> poem::Result<Self> {
        let limit = request.data::<BodyLimit>().map_or(DEFAULT_BODY_LIMIT, |l| l.0);
        let bytes = body.take()?.into_bytes_limit(limit).await.map_err(|e| match e {
            poem::error::ReadBodyError::PayloadTooLarge => poem::Error::from(BodyTooLarge { limit }),
            other => poem::Error::from(MalformedBody { reason: other.to_string() }),
        })?;
        let value: Value = serde_json::from_slice(&bytes).map_err(|e| MalformedBody { reason: e.to_string() })?;
        let parsed = T::parse_from_json(Some(value)).map_err(|e| InvalidBody { reason: e.into_message() })?;
        Ok(Self(parsed))
    }
}

poem_openapi::impl_apirequest_for_payload!(JsonBody<T>, T: ParseFromJSON);

/// The media types a download operation declares (generated per operation).
pub trait MediaTypes: Send + 'static {
    /// Declared media types, in contract order.
    const TYPES: &'static [&'static str];
}

/// A file sent as the body of a download response.
pub struct FileBody<M> {
    content_type: String,
    body: poem::Body,
    length: Option<u64>,
    media: PhantomData<M>,
}

impl<M> std::fmt::Debug for FileBody<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileBody").field("content_type", &self.content_type).finish_non_exhaustive()
    }
}

impl<M: MediaTypes> FileBody<M> {
    /// `body` sent as `content_type` (one of `M::TYPES`, possibly with parameters).
    pub fn new(content_type: impl Into<String>, body: impl Into<poem::Body>) -> Self {
        Self { content_type: content_type.into(), body: body.into(), length: None, media: PhantomData }
    }

    /// `length` bytes streamed from `reader`, sent as `content_type`; the length goes out as
    /// `Content-Length`, so clients see progress and truncation.
    pub fn streamed(content_type: impl Into<String>, reader: impl tokio::io::AsyncRead + Send + 'static, length: u64) -> Self {
        Self { content_type: content_type.into(), body: poem::Body::from_async_read(reader), length: Some(length), media: PhantomData }
    }
}

impl<M: MediaTypes> IntoResponse for FileBody<M> {
    fn into_response(self) -> Response {
        let builder = Response::builder().content_type(self.content_type);
        let builder = match self.length {
            Some(length) => builder.header(poem::http::header::CONTENT_LENGTH, length),
            None => builder,
        };
        builder.body(self.body)
    }
}

impl<M: MediaTypes> ResponseContent for FileBody<M> {
    fn media_types() -> Vec<MetaMediaType> {
        M::TYPES
            .iter()
            .map(|content_type| MetaMediaType {
                content_type,
                schema: MetaSchemaRef::Inline(Box::new(MetaSchema::new_with_format("string", "binary"))),
            })
            .collect()
    }
}
