//! Mapping a system's own payload shape into our canonical record, with JSONPath
//! (RFC 9535, the `serde_json_path` crate) expressions per field of the record.
//!
//! A mapping is `{"fields": {name: rule, …}}`, where a rule is one of:
//! - `"$.path"`: the one value the query selects; the field is left out when it selects
//!   nothing, and the mapping fails (naming the field) when it selects several;
//! - `{"all": "$.path[*]"}`: every value selected, as an array (empty when none);
//! - `{"each": "$.items[*]", "fields": {…}}`: an array with one object per value
//!   selected, each mapped by `fields` with that value as the root (`$`);
//! - `{"const": value}`: that value.
//!
//! Expressions are parsed when the system is saved: a bad one is refused, naming the
//! field. Without a mapping the payload is taken as the canonical record.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json_path::JsonPath;
use utoipa::ToSchema;

/// A mapping: per field of the canonical record, how to find it in the payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Mapping {
    /// Field name (1 to 64 of `a-z 0-9 _`) → rule.
    #[schema(value_type = Object)]
    pub fields: BTreeMap<String, Rule>,
}

/// How one field is found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum Rule {
    /// A JSONPath selecting at most one value.
    Path(String),
    /// Every value a JSONPath selects, as an array.
    All {
        /// The JSONPath.
        all: String,
    },
    /// One object per value a JSONPath selects, mapped by `fields` from that value.
    Each {
        /// The JSONPath selecting the items.
        each: String,
        /// The fields of each item.
        #[schema(value_type = Object)]
        fields: BTreeMap<String, Rule>,
    },
    /// A constant.
    Const {
        /// The value.
        #[serde(rename = "const")]
        #[schema(value_type = Object)]
        value: Value,
    },
}

/// The longest expression accepted, in bytes.
const MAX_EXPRESSION: usize = 1024;
/// The deepest nesting of `each` accepted.
const MAX_DEPTH: usize = 4;

fn parse(path: &str, at: &str) -> Result<JsonPath, String> {
    if path.len() > MAX_EXPRESSION {
        return Err(format!(
            "{at}: an expression is at most {MAX_EXPRESSION} bytes"
        ));
    }
    JsonPath::parse(path).map_err(|e| {
        format!(
            "{at}: not a JSONPath (RFC 9535) expression: {} at position {}",
            e.message(),
            e.position()
        )
    })
}

fn check_name(name: &str, at: &str) -> Result<(), String> {
    if name.is_empty()
        || name.len() > 64
        || !name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        return Err(format!(
            "{at}: a field name is 1 to 64 of a-z 0-9 _, got {:?}",
            name.chars().take(40).collect::<String>()
        ));
    }
    Ok(())
}

fn check_fields(fields: &BTreeMap<String, Rule>, at: &str, depth: usize) -> Result<(), String> {
    if depth > MAX_DEPTH {
        return Err(format!("{at}: `each` nests at most {MAX_DEPTH} deep"));
    }
    if fields.is_empty() {
        return Err(format!("{at}: no field is mapped"));
    }
    for (name, rule) in fields {
        check_name(name, at)?;
        let at = format!("{at}.{name}");
        match rule {
            Rule::Path(p) => {
                parse(p, &at)?;
            }
            Rule::All { all } => {
                parse(all, &format!("{at}.all"))?;
            }
            Rule::Each { each, fields } => {
                parse(each, &format!("{at}.each"))?;
                check_fields(fields, &format!("{at}.fields"), depth + 1)?;
            }
            Rule::Const { .. } => {}
        }
    }
    Ok(())
}

impl Mapping {
    /// Checks every field name and expression; the error names the field
    /// (`settings.mapping.fields.lines.each`…).
    pub fn check(&self, at: &str) -> Result<(), String> {
        check_fields(&self.fields, &format!("{at}.fields"), 0)
    }

    /// The canonical record of `payload`; every field that fails, named, when any does.
    pub fn apply(&self, payload: &Value) -> Result<Value, Vec<String>> {
        let mut errors = Vec::new();
        let record = map_fields(&self.fields, payload, "", &mut errors);
        if errors.is_empty() {
            Ok(record)
        } else {
            Err(errors)
        }
    }
}

fn map_fields(
    fields: &BTreeMap<String, Rule>,
    root: &Value,
    prefix: &str,
    errors: &mut Vec<String>,
) -> Value {
    let mut out = serde_json::Map::new();
    for (name, rule) in fields {
        let at = format!("{prefix}{name}");
        let value = match rule {
            Rule::Const { value } => Some(value.clone()),
            Rule::Path(p) => match parse(p, &at) {
                Err(e) => {
                    errors.push(e);
                    None
                }
                Ok(path) => {
                    let nodes = path.query(root).all();
                    match nodes.as_slice() {
                        [] => None,
                        [one] => Some((*one).clone()),
                        many => {
                            errors.push(format!(
                                "{at}: {p} selects {} values; use {{\"all\": …}} for a list",
                                many.len()
                            ));
                            None
                        }
                    }
                }
            },
            Rule::All { all } => match parse(all, &at) {
                Err(e) => {
                    errors.push(e);
                    None
                }
                Ok(path) => Some(Value::Array(
                    path.query(root).all().into_iter().cloned().collect(),
                )),
            },
            Rule::Each { each, fields } => match parse(each, &at) {
                Err(e) => {
                    errors.push(e);
                    None
                }
                Ok(path) => Some(Value::Array(
                    path.query(root)
                        .all()
                        .into_iter()
                        .enumerate()
                        .map(|(i, item)| map_fields(fields, item, &format!("{at}[{i}]."), errors))
                        .collect(),
                )),
            },
        };
        if let Some(v) = value {
            out.insert(name.clone(), v);
        }
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn mapping(v: Value) -> Mapping {
        serde_json::from_value(v).expect("mapping")
    }

    #[test]
    fn maps_paths_lists_items_and_constants() {
        let m = mapping(json!({"fields": {
            "external_id": "$.data.txn",
            "kind": {"const": "sale"},
            "tags": {"all": "$.data.tags[*]"},
            "lines": {"each": "$.data.items[*]", "fields": {"sku": "$.code", "quantity": "$.qty"}},
            "missing": "$.nope"
        }}));
        m.check("mapping").expect("valid");
        let payload = json!({"data": {"txn": "T-1", "tags": ["a", "b"],
            "items": [{"code": "X1", "qty": 2}, {"code": "X2", "qty": 1}]}});
        assert_eq!(
            m.apply(&payload).expect("mapped"),
            json!({"external_id": "T-1", "kind": "sale", "tags": ["a", "b"],
                "lines": [{"sku": "X1", "quantity": 2}, {"sku": "X2", "quantity": 1}]})
        );
    }

    #[test]
    fn names_the_bad_field() {
        let bad =
            mapping(json!({"fields": {"lines": {"each": "$.items[", "fields": {"sku": "$.c"}}}}));
        let e = bad.check("settings.mapping").expect_err("bad");
        assert!(e.starts_with("settings.mapping.fields.lines.each: "), "{e}");
        let nested = mapping(
            json!({"fields": {"lines": {"each": "$.items[*]", "fields": {"sku": "code"}}}}),
        );
        let e = nested.check("settings.mapping").expect_err("bad");
        assert!(
            e.starts_with("settings.mapping.fields.lines.fields.sku: "),
            "{e}"
        );
        let name = mapping(json!({"fields": {"Bad Name": "$.a"}}));
        assert!(name.check("m").is_err());
        let several = mapping(json!({"fields": {"sku": "$.items[*].code"}}));
        let errors = several
            .apply(&json!({"items": [{"code": 1}, {"code": 2}]}))
            .expect_err("several");
        assert!(errors[0].starts_with("sku: "), "{errors:?}");
    }
}
