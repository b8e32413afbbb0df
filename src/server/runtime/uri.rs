use std::borrow::Cow;
use std::fmt;
use std::sync::LazyLock;

use poem_openapi::registry::{MetaSchema, MetaSchemaRef};
use poem_openapi::types::{ParseError, ParseFromJSON, ParseFromParameter, ParseResult, ToJSON, Type};
use regex::Regex;
use serde_json::Value;

use super::StrictJson;

/// An absolute `http`/`https` URI (`format: uri`), the only kind the API stores or returns.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Uri(String);

/// RFC 3986 for `http(s)://host[:port][/path][?query][#fragment]`, no user info; the contract
/// states the same pattern wherever a client sends a URI.
pub const URI_PATTERN: &str = r"^https?://(?:[-A-Za-z0-9._~!$&'()*+,;=]|%[0-9A-Fa-f]{2})+(?::[0-9]{1,5})?(?:/(?:[-A-Za-z0-9._~!$&'()*+,;=:@]|%[0-9A-Fa-f]{2})*)*(?:\?(?:[-A-Za-z0-9._~!$&'()*+,;=:@/?]|%[0-9A-Fa-f]{2})*)?(?:#(?:[-A-Za-z0-9._~!$&'()*+,;=:@/?]|%[0-9A-Fa-f]{2})*)?$";

#[allow(clippy::expect_used, reason = "a constant pattern; any use in a test would fail on it")]
static URI: LazyLock<Regex> = LazyLock::new(|| Regex::new(URI_PATTERN).expect("URI_PATTERN is a valid regex"));

impl Uri {
    /// Checks that `text` is an absolute http(s) URI as [`URI_PATTERN`] describes.
    pub fn parse(text: &str) -> Result<Self, String> {
        if URI.is_match(text) { Ok(Self(text.to_string())) } else { Err(format!("`{text}` is not an absolute http(s) URI")) }
    }

    /// The URI text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Uri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Type for Uri {
    const IS_REQUIRED: bool = true;
    type RawValueType = String;
    type RawElementValueType = String;

    fn name() -> Cow<'static, str> {
        "string(uri)".into()
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(MetaSchema::new_with_format("string", "uri")))
    }

    fn as_raw_value(&self) -> Option<&Self::RawValueType> {
        Some(&self.0)
    }

    fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
        Box::new(std::iter::once(&self.0))
    }
}

impl ParseFromJSON for Uri {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        match value {
            Some(Value::String(text)) => Self::parse(&text).map_err(ParseError::custom),
            other => Err(ParseError::expected_type(other.unwrap_or_default())),
        }
    }
}

impl ParseFromParameter for Uri {
    fn parse_from_parameter(value: &str) -> ParseResult<Self> {
        Self::parse(value).map_err(ParseError::custom)
    }
}

impl ToJSON for Uri {
    fn to_json(&self) -> Option<Value> {
        Some(Value::String(self.0.clone()))
    }
}

impl StrictJson for Uri {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_urls_parse_and_everything_else_does_not() {
        for good in ["https://example.com", "http://a.b:8080/x/y?q=1&r=%20#frag", "https://example.com/ada.png", "https://x/a:b@c"] {
            assert!(Uri::parse(good).is_ok(), "{good}");
        }
        for bad in [
            "https://aK<e",
            "javascript:alert(1)",
            "ftp://x",
            "https://",
            "https:///x",
            "https://a b",
            "https://a%zz",
            "https://u@host",
            "//x",
        ] {
            assert!(Uri::parse(bad).is_err(), "{bad}");
        }
    }
}
