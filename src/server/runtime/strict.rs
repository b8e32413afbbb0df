//! Strict JSON parsing for the generated models. poem-openapi on its own turns numbers and
//! booleans into strings and accepts `null` for any optional field; the contract allows neither,
//! and every error here names the field, so a 422 can say which one.

use std::collections::BTreeMap;

use poem_openapi::types::{Email, MaybeUndefined, ParseError, ParseFromJSON, ParseResult, Password};
use serde_json::Value;

/// A type parsed from JSON exactly as its schema says. The default defers to poem-openapi,
/// which is already strict for everything but strings and containers.
pub trait StrictJson: ParseFromJSON {
    /// Parses a present, non-null value.
    fn parse_strict(value: Value) -> ParseResult<Self> {
        Self::parse_from_json(Some(value))
    }
}

/// A required field: present and not null.
pub fn required<T: StrictJson>(field: &str, value: Option<Value>) -> ParseResult<T> {
    match value {
        None => Err(ParseError::custom(format!("field `{field}` is required"))),
        Some(Value::Null) => Err(ParseError::custom(format!("field `{field}` must not be null"))),
        Some(value) => parse_field(field, value),
    }
}

/// An optional field: absent or a value, never null.
pub fn optional<T: StrictJson>(field: &str, value: Option<Value>) -> ParseResult<Option<T>> {
    match value {
        None => Ok(None),
        Some(Value::Null) => Err(ParseError::custom(format!("field `{field}` must not be null (omit it instead)"))),
        Some(value) => parse_field(field, value).map(Some).map_err(ParseError::propagate),
    }
}

/// An optional nullable field: absent (leave as is), null (clear) or a value.
pub fn nullable<T: StrictJson>(field: &str, value: Option<Value>) -> ParseResult<MaybeUndefined<T>> {
    match value {
        None => Ok(MaybeUndefined::Undefined),
        Some(Value::Null) => Ok(MaybeUndefined::Null),
        Some(value) => parse_field(field, value).map(MaybeUndefined::Value).map_err(ParseError::propagate),
    }
}

fn parse_field<T: StrictJson>(field: &str, value: Value) -> ParseResult<T> {
    T::parse_strict(value).map_err(|e| ParseError::custom(format!("field `{field}`: {}", e.message())))
}

/// A JSON string without U+0000, which PostgreSQL text cannot hold (CONVENTIONS.md).
fn string(value: Value) -> Result<String, String> {
    match value {
        Value::String(s) if s.contains('\0') => Err("must not contain NUL (U+0000) characters".into()),
        Value::String(s) => Ok(s),
        other => Err(format!("expected a string, found {other}")),
    }
}

impl StrictJson for String {
    fn parse_strict(value: Value) -> ParseResult<Self> {
        string(value).map_err(ParseError::custom)
    }
}

impl StrictJson for Email {
    fn parse_strict(value: Value) -> ParseResult<Self> {
        let text = string(value).map_err(ParseError::custom)?;
        Self::parse_from_json(Some(Value::String(text))).map_err(|_| ParseError::custom("not a valid email address"))
    }
}

impl StrictJson for Password {
    fn parse_strict(value: Value) -> ParseResult<Self> {
        string(value).map(Password).map_err(ParseError::custom)
    }
}

impl<T: StrictJson> StrictJson for Vec<T> {
    fn parse_strict(value: Value) -> ParseResult<Self> {
        match value {
            Value::Array(items) => items
                .into_iter()
                .enumerate()
                .map(|(i, item)| T::parse_strict(item).map_err(|e| ParseError::custom(format!("item {i}: {}", e.message()))))
                .collect(),
            other => Err(ParseError::custom(format!("expected an array, found {other}"))),
        }
    }
}

impl StrictJson for BTreeMap<String, Value> {
    fn parse_strict(value: Value) -> ParseResult<Self> {
        match value {
            Value::Object(map) => Ok(map.into_iter().collect()),
            other => Err(ParseError::custom(format!("expected an object, found {other}"))),
        }
    }
}

impl StrictJson for i32 {}
impl StrictJson for i64 {}
impl StrictJson for bool {}
impl StrictJson for uuid::Uuid {}
impl StrictJson for chrono::DateTime<chrono::Utc> {}
