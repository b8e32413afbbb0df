//! Differences between two normalised documents, one line each.

use std::fmt;

use serde_json::Value;

use crate::normalize::normalize;
use crate::pointer::escape_pointer_token;

/// One place where two documents differ in meaning.
#[derive(Debug, Clone, PartialEq)]
pub struct Difference {
    /// JSON pointer into the normalised form (`/operations/GET ~1api~1v1~1x/...`).
    pub pointer: String,
    /// The value in the contract (`None`: absent there).
    pub contract: Option<Value>,
    /// The value in the other document (`None`: absent there).
    pub served: Option<Value>,
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let show = |v: &Option<Value>| v.as_ref().map_or_else(|| "(absent)".to_string(), compact);
        write!(f, "{}\n    contract: {}\n    served:   {}", self.pointer, show(&self.contract), show(&self.served))
    }
}

fn compact(value: &Value) -> String {
    let text = value.to_string();
    if text.len() > 300 { format!("{}…", &text[..text.floor_char_boundary(300)]) } else { text }
}

/// Every difference in meaning between the `contract` and the `served` document.
pub fn semantic_diff(contract: &Value, served: &Value) -> Vec<Difference> {
    let mut out = Vec::new();
    compare(&normalize(contract), &normalize(served), String::new(), &mut out);
    out
}

fn compare(a: &Value, b: &Value, at: String, out: &mut Vec<Difference>) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for (key, va) in x {
                let here = format!("{at}/{}", escape_pointer_token(key));
                match y.get(key) {
                    Some(vb) => compare(va, vb, here, out),
                    None => out.push(Difference { pointer: here, contract: Some(va.clone()), served: None }),
                }
            }
            for (key, vb) in y.iter().filter(|(k, _)| !x.contains_key(*k)) {
                out.push(Difference { pointer: format!("{at}/{}", escape_pointer_token(key)), contract: None, served: Some(vb.clone()) });
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (va, vb)) in x.iter().zip(y).enumerate() {
                compare(va, vb, format!("{at}/{i}"), out);
            }
        }
        _ if a == b => {}
        _ => out.push(Difference { pointer: at, contract: Some(a.clone()), served: Some(b.clone()) }),
    }
}
