//! JSON pointers (RFC 6901) as used inside `$ref`s.

use serde_json::Value;

/// Escapes one reference token (`/` → `~1`, `~` → `~0`).
pub fn escape_pointer_token(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

fn unescape(token: &str) -> String {
    token.replace("~1", "/").replace("~0", "~")
}

/// Follows `pointer` (`""`, `/a/b`) into `doc`.
pub fn resolve_pointer<'a>(doc: &'a Value, pointer: &str) -> Option<&'a Value> {
    if pointer.is_empty() {
        return Some(doc);
    }
    let rest = pointer.strip_prefix('/')?;
    rest.split('/').try_fold(doc, |node, raw| {
        let token = unescape(raw);
        match node {
            Value::Object(map) => map.get(&token),
            Value::Array(items) => token.parse::<usize>().ok().and_then(|i| items.get(i)),
            _ => None,
        }
    })
}
