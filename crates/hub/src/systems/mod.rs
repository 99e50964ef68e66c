//! The registry of external systems: the retailer's POS, suppliers, member, payment,
//! delivery and ERP systems, each with typed connection settings, write-only secrets
//! sealed at rest ([`crypto`]), sync settings, and the outcome of its last test.

pub mod crypto;
pub mod health;
pub mod http;
pub mod live;
pub mod runs;
pub mod supplier;

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// What a system is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A point-of-sale system.
    Pos,
    /// A supplier (Haier).
    Supplier,
    /// A member (loyalty) system.
    Member,
    /// A payment provider.
    Payment,
    /// A delivery provider.
    Delivery,
    /// An ERP.
    Erp,
}

/// The state of a system.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// In use: for a supplier, the hub talks to it.
    Active,
    /// Registered, not in use.
    Inactive,
    /// Its last test failed.
    Error,
    /// Being set up or tested.
    Testing,
}

macro_rules! names {
    ($t:ty { $($v:ident => $s:literal),* $(,)? }) => {
        impl $t {
            /// The name as written in the API.
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$v => $s),* }
            }
            /// Every value's name, for error messages.
            pub const NAMES: &'static str = concat!($($s, " "),*);
        }
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
        impl FromStr for $t {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $($s => Ok(Self::$v),)*
                    other => Err(format!(
                        "must be one of {}; got {:?}",
                        Self::NAMES.trim_end().replace(' ', ", "),
                        other.chars().take(40).collect::<String>()
                    )),
                }
            }
        }
    };
}

names!(Kind { Pos => "pos", Supplier => "supplier", Member => "member", Payment => "payment", Delivery => "delivery", Erp => "erp" });
names!(Status { Active => "active", Inactive => "inactive", Error => "error", Testing => "testing" });

/// Connection settings of a Haier supplier system: what the hub's `[haier]`, `[ylh]` and
/// `[haier_callback]` sections carry, less their secrets, which go in `secrets`
/// ([`SUPPLIER_SECRETS`]). In a section, a secret's field is refused, and a field whose
/// name ends in `url` must be an `http://` or `https://` URL.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HaierSettings {
    /// The vendor: `haier`.
    #[schema(schema_with = vendor_schema)]
    pub vendor: String,
    /// The Open Platform (`[haier]` less `client_secret`, `password`, `seller_password`,
    /// `customer_password`).
    #[serde(default)]
    #[schema(schema_with = open_platform_schema)]
    pub open_platform: Option<serde_json::Map<String, serde_json::Value>>,
    /// The YLH order centre (`[ylh]` less `client_secret` and `password`, which are the
    /// secrets `ylh_client_secret` and `ylh_password`).
    #[serde(default)]
    #[schema(schema_with = ylh_schema)]
    pub ylh: Option<serde_json::Map<String, serde_json::Value>>,
    /// The signed callbacks (`[haier_callback]` less `secret`, the secret
    /// `callback_secret`).
    #[serde(default)]
    #[schema(schema_with = callback_schema)]
    pub callback: Option<serde_json::Map<String, serde_json::Value>>,
    /// How its webhooks' payloads become our canonical records
    /// ([`crate::webhooks::inbound::mapping`]); none: the canonical schema is expected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mapping: Option<crate::webhooks::inbound::mapping::Mapping>,
}

/// The one supplier vendor known: `haier`.
pub const VENDOR: &str = "haier";

fn vendor_schema() -> utoipa::openapi::schema::Object {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some([VENDOR]))
        .description(Some("The vendor: `haier`."))
        .build()
}

/// The schema of a supplier settings section (`open_platform`, `ylh`, `callback`), or
/// null: any fields but the section's secrets; those named `…url` are http(s) URLs.
pub fn section_schema(section: &str, description: &str) -> utoipa::openapi::schema::Object {
    use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
    let secrets: Vec<&str> = SUPPLIER_SECRETS
        .iter()
        .filter(|(_, sec, _)| *sec == section)
        .map(|(_, _, field)| *field)
        .collect();
    let names = crate::input::with_keyword(
        ObjectBuilder::new().schema_type(Type::String).build(),
        "not",
        serde_json::json!({ "enum": secrets }),
    );
    let object = ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::Object, Type::Null]))
        .description(Some(description))
        .property_names(Some(names))
        .build();
    crate::input::with_keyword(
        object,
        "patternProperties",
        serde_json::json!({ "url$": { "type": "string", "pattern": URL_PATTERN } }),
    )
}

/// The pattern of a URL setting: `http://` or `https://`.
pub const URL_PATTERN: &str = "^https?://";

fn open_platform_schema() -> utoipa::openapi::schema::Object {
    section_schema(
        "open_platform",
        "The Open Platform (`[haier]` less `client_secret`, `password`, `seller_password`, \
         `customer_password`).",
    )
}

fn ylh_schema() -> utoipa::openapi::schema::Object {
    section_schema(
        "ylh",
        "The YLH order centre (`[ylh]` less `client_secret` and `password`, which are the \
         secrets `ylh_client_secret` and `ylh_password`).",
    )
}

fn callback_schema() -> utoipa::openapi::schema::Object {
    section_schema(
        "callback",
        "The signed callbacks (`[haier_callback]` less `secret`, the secret `callback_secret`).",
    )
}

/// Connection settings of the other kinds: where it is, and where it sends webhooks.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EndpointSettings {
    /// The system's API, `http://` or `https://`.
    #[serde(default)]
    #[schema(pattern = "^https?://")]
    pub base_url: Option<String>,
    /// A webhook-only system: true when it only calls us (signed with its secrets).
    #[serde(default)]
    pub webhook_only: bool,
    /// How its webhooks' payloads become our canonical records
    /// ([`crate::webhooks::inbound::mapping`]); none: the canonical schema is expected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mapping: Option<crate::webhooks::inbound::mapping::Mapping>,
}

/// The secrets a Haier supplier system may carry, with the setting each one fills.
pub const SUPPLIER_SECRETS: [(&str, &str, &str); 7] = [
    ("client_secret", "open_platform", "client_secret"),
    ("password", "open_platform", "password"),
    ("seller_password", "open_platform", "seller_password"),
    ("customer_password", "open_platform", "customer_password"),
    ("ylh_client_secret", "ylh", "client_secret"),
    ("ylh_password", "ylh", "password"),
    ("callback_secret", "callback", "secret"),
];

/// Sync settings.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SyncSettings {
    /// County codes (GB/T 2260 stock regions) whose stock is synced.
    #[serde(default)]
    #[schema(value_type = Vec<crate::input::CountyCode>)]
    pub counties: Vec<String>,
    /// Minutes between scheduled runs (1 to 10080); none: no schedule.
    #[serde(default, deserialize_with = "minutes")]
    #[schema(minimum = 1, maximum = 10080)]
    pub interval_minutes: Option<u32>,
}

/// The settings of a supplier system.
const SUPPLIER_SETTINGS: [&str; 4] = ["vendor", "open_platform", "ylh", "callback"];

/// The settings of the other kinds.
const ENDPOINT_SETTINGS: [&str; 2] = ["base_url", "webhook_only"];

/// Whether the settings `patch` names a setting of another kind than `kind` (and not of
/// `kind`): what is wrong, naming it.
pub fn settings_of_another_kind(kind: Kind, patch: &serde_json::Value) -> Option<String> {
    let (own, other): (&[&str], &[&str]) = if kind == Kind::Supplier {
        (&SUPPLIER_SETTINGS, &ENDPOINT_SETTINGS)
    } else {
        (&ENDPOINT_SETTINGS, &SUPPLIER_SETTINGS)
    };
    let serde_json::Value::Object(fields) = patch else {
        return None;
    };
    fields
        .keys()
        .find(|k| other.contains(&k.as_str()) && !own.contains(&k.as_str()))
        .map(|k| format!("settings.{k} is not a setting of a {kind} system"))
}

/// Reads [`SyncSettings::interval_minutes`]: an integer (also spelled `7.0`, as JSON
/// Schema counts it) that fits a `u32`, or null.
fn minutes<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<u32>, D::Error> {
    use serde::de::Error;
    #[derive(Deserialize)]
    struct Integer(#[serde(deserialize_with = "crate::input::integer")] i64);
    Option::<Integer>::deserialize(deserializer)?
        .map(|Integer(n)| {
            u32::try_from(n).map_err(|_| D::Error::custom(format!("expected 1 to 10080, got {n}")))
        })
        .transpose()
}

/// Names a secret may have: 1 to 64 of `a-z 0-9 _`.
pub fn check_secret_name(name: &str) -> Result<(), String> {
    if name.is_empty()
        || name.len() > 64
        || !name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        return Err(format!(
            "secrets: a name must be 1 to 64 of a-z 0-9 _, got {:?}",
            name.chars().take(40).collect::<String>()
        ));
    }
    Ok(())
}

/// Checks `settings` for `kind`; the settings as stored. Errors name the field.
pub fn check_settings(
    kind: Kind,
    settings: &serde_json::Value,
) -> Result<serde_json::Value, String> {
    let bad = |e: serde_json::Error| format!("settings: {e}");
    if !settings.is_object() {
        // serde would read a struct from an array too.
        return Err("settings must be an object".to_owned());
    }
    let url_ok = |u: &str| u.starts_with("http://") || u.starts_with("https://");
    match kind {
        Kind::Supplier => {
            let s: HaierSettings = serde_json::from_value(settings.clone()).map_err(bad)?;
            if s.vendor != VENDOR {
                return Err(format!(
                    "settings.vendor: the only supplier known is haier, got {:?}",
                    s.vendor.chars().take(40).collect::<String>()
                ));
            }
            for (section, fields) in [
                ("open_platform", &s.open_platform),
                ("ylh", &s.ylh),
                ("callback", &s.callback),
            ] {
                let Some(fields) = fields else { continue };
                for (name, value) in fields {
                    if SUPPLIER_SECRETS
                        .iter()
                        .any(|(_, sec, field)| *sec == section && field == name)
                    {
                        return Err(format!(
                            "settings.{section}.{name} is a secret: send it in secrets"
                        ));
                    }
                    if name.ends_with("url") && !value.as_str().is_some_and(url_ok) {
                        return Err(format!("settings.{section}.{name} must be an http(s) URL"));
                    }
                }
            }
            if let Some(m) = &s.mapping {
                m.check("settings.mapping")?;
            }
            serde_json::to_value(s).map_err(bad)
        }
        _ => {
            let s: EndpointSettings = serde_json::from_value(settings.clone()).map_err(bad)?;
            if let Some(u) = &s.base_url
                && !url_ok(u)
            {
                return Err("settings.base_url must be an http(s) URL".to_owned());
            }
            if let Some(m) = &s.mapping {
                m.check("settings.mapping")?;
            }
            serde_json::to_value(s).map_err(bad)
        }
    }
}

/// Checks secret names for `kind`: a supplier's are [`SUPPLIER_SECRETS`]; other kinds
/// name theirs freely (`signing_secret`, `api_key`…).
pub fn check_secret_names<'a>(
    kind: Kind,
    names: impl IntoIterator<Item = &'a String>,
) -> Result<(), String> {
    for name in names {
        check_secret_name(name)?;
        if kind == Kind::Supplier && !SUPPLIER_SECRETS.iter().any(|(n, _, _)| n == name) {
            return Err(format!(
                "secrets.{name}: a supplier system's secrets are {}",
                SUPPLIER_SECRETS
                    .iter()
                    .map(|s| s.0)
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    }
    Ok(())
}

/// Checks sync settings: county codes of the stock regions, interval 1 to 10080.
pub fn check_sync(sync: &SyncSettings) -> Result<(), String> {
    for c in &sync.counties {
        crate::catalog::parse_stock_region(c).map_err(|e| {
            format!(
                "sync.counties: {:?}: {e}",
                c.chars().take(20).collect::<String>()
            )
        })?;
    }
    if let Some(m) = sync.interval_minutes
        && !(1..=10080).contains(&m)
    {
        return Err(format!("sync.interval_minutes must be 1 to 10080, got {m}"));
    }
    Ok(())
}

/// A Haier supplier system's settings as the hub's `[haier]`, `[ylh]` and
/// `[haier_callback]` sections.
pub type HaierConfigs = (
    Option<haier::OpenPlatformConfig>,
    Option<haier::ylh::YlhConfig>,
    Option<crate::config::CallbackConfig>,
);

/// The hub's Open Platform, YLH and callback settings from a supplier system's
/// settings and opened secrets. Errors name the missing or bad setting, never a value.
pub fn haier_configs(
    settings: &serde_json::Value,
    secrets: &BTreeMap<String, String>,
) -> Result<HaierConfigs, String> {
    let s: HaierSettings =
        serde_json::from_value(settings.clone()).map_err(|e| format!("settings: {e}"))?;
    let section = |name: &str, fields: &Option<serde_json::Map<String, serde_json::Value>>| {
        fields.clone().map(|mut map| {
            for (secret, sec, field) in SUPPLIER_SECRETS {
                if sec == name
                    && let Some(v) = secrets.get(secret)
                {
                    map.insert(field.to_owned(), serde_json::Value::from(v.clone()));
                }
            }
            serde_json::Value::Object(map)
        })
    };
    let hide = |section: &str, e: serde_json::Error| {
        let text = e.to_string();
        let shown = secrets.values().fold(text, |t, v| {
            if v.is_empty() {
                t
            } else {
                t.replace(v.as_str(), "***")
            }
        });
        format!("settings.{section}: {shown}")
    };
    let open_platform = section("open_platform", &s.open_platform)
        .map(|v| serde_json::from_value(v).map_err(|e| hide("open_platform", e)))
        .transpose()?;
    let ylh = section("ylh", &s.ylh)
        .map(|v| serde_json::from_value(v).map_err(|e| hide("ylh", e)))
        .transpose()?;
    let callback = section("callback", &s.callback)
        .map(|v| serde_json::from_value(v).map_err(|e| hide("callback", e)))
        .transpose()?;
    Ok((open_platform, ylh, callback))
}

/// Numeric fields of the supplier sections (the others are text).
const NUMERIC_FIELDS: [&str; 7] = [
    "rate_limit",
    "timeout_ms",
    "token_timeout_ms",
    "max_retries",
    "breaker_threshold",
    "breaker_cooldown_ms",
    "window_secs",
];

/// A Haier supplier system's settings and secrets from settings written as environment
/// variables (`SUPPLYHUB_HAIER__BASE_URL`, as `supplyhub sandbox --print-env` prints
/// them): `[haier]` goes to `open_platform`, `[ylh]` to `ylh`, `[haier_callback]` to
/// `callback`, and the secrets to the secrets map. Other settings are ignored.
pub fn supplier_from_env(
    vars: &[(String, String)],
) -> (serde_json::Value, BTreeMap<String, String>) {
    let mut sections: BTreeMap<&str, serde_json::Map<String, serde_json::Value>> = BTreeMap::new();
    let mut secrets = BTreeMap::new();
    for (name, value) in vars {
        let Some((section, field)) = name
            .strip_prefix("SUPPLYHUB_")
            .and_then(|rest| rest.split_once("__"))
        else {
            continue;
        };
        let section = match section.to_ascii_lowercase().as_str() {
            "haier" => "open_platform",
            "ylh" => "ylh",
            "haier_callback" => "callback",
            _ => continue,
        };
        let field = field.to_ascii_lowercase();
        if let Some((secret, _, _)) = SUPPLIER_SECRETS
            .iter()
            .find(|(_, sec, f)| *sec == section && *f == field)
        {
            secrets.insert((*secret).to_owned(), value.clone());
            continue;
        }
        let json = match value.parse::<u64>() {
            Ok(n) if NUMERIC_FIELDS.contains(&field.as_str()) => serde_json::Value::from(n),
            _ => serde_json::Value::from(value.clone()),
        };
        sections.entry(section).or_default().insert(field, json);
    }
    let mut settings = serde_json::Map::new();
    settings.insert("vendor".to_owned(), serde_json::Value::from("haier"));
    for (section, fields) in sections {
        settings.insert(section.to_owned(), serde_json::Value::Object(fields));
    }
    (serde_json::Value::Object(settings), secrets)
}
