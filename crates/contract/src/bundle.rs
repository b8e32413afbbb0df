//! Resolves the contract's relative file `$ref`s into one self-contained document.
//!
//! No maintained Rust crate resolves external file refs, so this is the small resolver the
//! generators need. A file ref whose target is registered under `components` in the root document
//! becomes a local `#/components/<kind>/<Name>` ref; any other file ref (path items, in practice)
//! is inlined. The output equals what `redocly bundle` produces for the same files.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::pointer::{escape_pointer_token, resolve_pointer};

/// Component kinds whose entries may be registered file refs.
const COMPONENT_KINDS: [&str; 6] = ["schemas", "responses", "parameters", "requestBodies", "headers", "securitySchemes"];

/// A bundled contract.
#[derive(Debug, Clone)]
pub struct Bundle {
    /// The self-contained OpenAPI document.
    pub doc: Value,
    /// Every file read, for `cargo:rerun-if-changed`.
    pub files: Vec<PathBuf>,
    /// Where inlined or registered content came from: (pointer in `doc`, `file#pointer`).
    sources: Vec<(String, String)>,
}

impl Bundle {
    /// The source file (and pointer in it) of the content at `pointer` in the bundled document.
    pub fn source_of(&self, pointer: &str) -> Option<&str> {
        self.sources
            .iter()
            .filter(|(at, _)| pointer == at || pointer.starts_with(&format!("{at}/")))
            .max_by_key(|(at, _)| at.len())
            .map(|(_, origin)| origin.as_str())
    }
}

/// Why a contract could not be bundled.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    /// A file is not valid YAML.
    #[error("{path} is not valid YAML: {source}")]
    Yaml { path: PathBuf, source: serde_yaml_ng::Error },
    /// A `$ref` points at nothing.
    #[error("{file}{at}: $ref `{reference}` does not resolve")]
    Dangling { file: String, at: String, reference: String },
    /// A `$ref` has sibling keys, which OpenAPI 3.0 ignores and the generators would lose.
    #[error("{file}{at}: $ref `{reference}` has sibling keys; OpenAPI 3.0 ignores them")]
    RefSiblings { file: String, at: String, reference: String },
    /// Inlining would never end.
    #[error("{file}{at}: $ref `{reference}` is part of a cycle of inlined files")]
    Cycle { file: String, at: String, reference: String },
}

/// Bundles the contract whose entry point is `root` (e.g. `api-contract/openapi.yaml`).
pub fn bundle(root: &Path) -> Result<Bundle, BundleError> {
    let root = absolute(root);
    let base = root.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut bundler = Bundler { base, root: root.clone(), ..Bundler::default() };
    let doc = bundler.load(&root)?.clone();
    bundler.register_components(&root, &doc);
    let doc = bundler.resolve(&doc, &root, "")?;
    Ok(Bundle { doc, files: bundler.files.into_keys().collect(), sources: bundler.sources })
}

#[derive(Default)]
struct Bundler {
    base: PathBuf,
    root: PathBuf,
    files: BTreeMap<PathBuf, Value>,
    /// (file, pointer) of a registered component → its local ref.
    registry: HashMap<(PathBuf, String), String>,
    sources: Vec<(String, String)>,
    inlining: Vec<(PathBuf, String)>,
}

impl Bundler {
    fn load(&mut self, path: &Path) -> Result<&Value, BundleError> {
        if !self.files.contains_key(path) {
            let text = std::fs::read_to_string(path).map_err(|source| BundleError::Read { path: path.to_path_buf(), source })?;
            let value: Value = serde_yaml_ng::from_str(&text).map_err(|source| BundleError::Yaml { path: path.to_path_buf(), source })?;
            self.files.insert(path.to_path_buf(), value);
        }
        Ok(&self.files[path])
    }

    fn register_components(&mut self, root: &Path, doc: &Value) {
        let Some(components) = doc.get("components") else { return };
        for kind in COMPONENT_KINDS {
            let Some(Value::Object(entries)) = components.get(kind) else { continue };
            for (name, entry) in entries {
                if let Some((file, pointer)) = entry.get("$ref").and_then(Value::as_str).and_then(|r| split_file_ref(r)) {
                    let target = normalize_path(&root.parent().unwrap_or(Path::new("")).join(file));
                    self.registry.insert((target, pointer), format!("#/components/{kind}/{}", escape_pointer_token(name)));
                }
            }
        }
    }

    fn resolve(&mut self, node: &Value, file: &Path, at: &str) -> Result<Value, BundleError> {
        match node {
            Value::Object(map) => match map.get("$ref").and_then(Value::as_str) {
                Some(reference) => self.resolve_ref(map, reference, file, at),
                None => {
                    let mut out = Map::with_capacity(map.len());
                    for (key, value) in map {
                        out.insert(key.clone(), self.resolve(value, file, &format!("{at}/{}", escape_pointer_token(key)))?);
                    }
                    Ok(Value::Object(out))
                }
            },
            Value::Array(items) => items.iter().enumerate().map(|(i, item)| self.resolve(item, file, &format!("{at}/{i}"))).collect(),
            other => Ok(other.clone()),
        }
    }

    fn resolve_ref(&mut self, map: &Map<String, Value>, reference: &str, file: &Path, at: &str) -> Result<Value, BundleError> {
        let shown_file = self.display(file);
        let error_context = || (shown_file.clone(), at.to_string(), reference.to_string());
        if map.len() > 1 {
            let (file, at, reference) = error_context();
            return Err(BundleError::RefSiblings { file, at, reference });
        }
        let (target_file, pointer) = match reference.strip_prefix('#') {
            // The root document's own refs already point into its components.
            Some(_) if file == self.root => return Ok(Value::Object(map.clone())),
            Some(pointer) => (file.to_path_buf(), pointer.to_string()),
            None => match split_file_ref(reference) {
                Some((relative, pointer)) => (normalize_path(&file.parent().unwrap_or(Path::new("")).join(relative)), pointer),
                None => {
                    let (file, at, reference) = error_context();
                    return Err(BundleError::Dangling { file, at, reference });
                }
            },
        };
        let key = (target_file.clone(), pointer.clone());
        if let Some(local) = self.registry.get(&key)
            && local.as_str() != format!("#{at}")
        {
            return Ok(Value::Object(Map::from_iter([("$ref".to_string(), Value::String(local.clone()))])));
        }
        if self.inlining.contains(&key) {
            let (file, at, reference) = error_context();
            return Err(BundleError::Cycle { file, at, reference });
        }
        let target = match resolve_pointer(self.load(&target_file)?, &pointer) {
            Some(target) => target.clone(),
            None => {
                let (file, at, reference) = error_context();
                return Err(BundleError::Dangling { file, at, reference });
            }
        };
        self.sources.push((at.to_string(), format!("{}#{pointer}", self.display(&target_file))));
        self.inlining.push(key);
        let resolved = self.resolve(&target, &target_file, at);
        self.inlining.pop();
        resolved
    }

    fn display(&self, file: &Path) -> String {
        file.strip_prefix(&self.base).unwrap_or(file).display().to_string()
    }
}

/// Splits `file.yaml#/pointer` into the file part and the pointer (`""` for the whole file).
fn split_file_ref(reference: &str) -> Option<(&str, String)> {
    let (file, pointer) = reference.split_once('#').unwrap_or((reference, ""));
    (!file.is_empty()).then(|| (file, pointer.to_string()))
}

fn absolute(path: &Path) -> PathBuf {
    if path.is_absolute() { normalize_path(path) } else { normalize_path(&std::env::current_dir().unwrap_or_default().join(path)) }
}

/// Removes `.` and `..` components without touching the file system.
fn normalize_path(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}
