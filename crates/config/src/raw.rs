//! The raw configuration model: serde structs that mirror `fearless.yaml` key for key.
//!
//! Nothing here is validated beyond YAML structure; `validate` turns these into the
//! resolved [`crate::Config`]. Unknown keys are not denied by serde: `keys` collects every
//! one of them (all problems of a file are reported together) and checks them against these
//! structs' field lists, so a field added here is automatically a valid key. Numbers and
//! booleans are read as a [`Value`] and typed in `validate`, so that `port: abc` and
//! `exit: 256` in the same file are both reported, each with its key and range, rather than
//! the first as "invalid u16". Mappings with free keys are a [`Map`], which keeps the first
//! of repeated keys and says that it saw one: the span index (built only when something is
//! to be reported) then reports every duplicate, located.

use indexmap::IndexMap;
use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
pub(crate) struct RawConfig {
    #[serde(default)]
    pub(crate) inventory: RawInventory,
    #[serde(default)]
    pub(crate) components: Map<RawComponent>,
    pub(crate) patch: Option<RawPatch>,
    pub(crate) change: Option<RawChange>,
    pub(crate) events: Option<RawEvents>,
    pub(crate) store: Option<String>,
    pub(crate) parity: Option<RawParity>,
    pub(crate) identity: Option<RawIdentity>,
    pub(crate) serve: Option<RawServe>,
    pub(crate) monitor: Option<RawMonitor>,
}

/// `serve:`: the dashboard.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct RawServe {
    pub(crate) listen: Option<String>,
    pub(crate) users: Option<String>,
    pub(crate) open_read: Option<Value>,
    pub(crate) files: Option<String>,
}

/// `monitor:`: the continuous test plan.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct RawMonitor {
    pub(crate) interval: Option<String>,
    pub(crate) retention: Option<String>,
    pub(crate) confirm: Option<Value>,
}

/// `identity:`: who may be taken at their word.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct RawIdentity {
    pub(crate) mode: Option<String>,
    pub(crate) roles: Option<RawRoles>,
    pub(crate) allowed_signers: Option<String>,
    pub(crate) signing_key: Option<String>,
}

/// `identity.roles`: who may approve (by change type), patch and close.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct RawRoles {
    pub(crate) approve: Option<Map<Vec<String>>>,
    pub(crate) patch: Option<Vec<String>>,
    pub(crate) close: Option<Vec<String>>,
}

/// `parity:`: what `fearless parity` allows to differ.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct RawParity {
    #[serde(default)]
    pub(crate) ignore: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct RawInventory {
    #[serde(default)]
    pub(crate) defaults: RawHostFields,
    #[serde(default)]
    pub(crate) hosts: Map<RawHostFields>,
    #[serde(default)]
    pub(crate) groups: Map<String>,
    #[serde(default)]
    pub(crate) import: Vec<RawImport>,
    pub(crate) ssh: Option<RawSsh>,
    pub(crate) concurrency: Option<Value>,
    #[serde(default)]
    pub(crate) ec2: Vec<RawEc2>,
    pub(crate) ssm: Option<RawSsm>,
}

/// `inventory.ec2[]`: one EC2 discovery source.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct RawEc2 {
    pub(crate) region: Option<String>,
    pub(crate) profile: Option<String>,
    pub(crate) endpoint_url: Option<String>,
    #[serde(default)]
    pub(crate) filters: Map<Strings>,
    pub(crate) name: Option<String>,
    pub(crate) address: Option<String>,
    pub(crate) transport: Option<String>,
    #[serde(default)]
    pub(crate) defaults: RawHostFields,
    pub(crate) cache: Option<String>,
}

/// `inventory.ssm`: how the `ssm` transport reaches AWS Systems Manager.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct RawSsm {
    pub(crate) region: Option<String>,
    pub(crate) profile: Option<String>,
    pub(crate) endpoint_url: Option<String>,
    pub(crate) output_bucket: Option<String>,
}

/// One string or a list of them (an EC2 filter's values).
#[derive(Debug, Default, Clone)]
pub(crate) struct Strings(pub(crate) Vec<String>);

impl<'de> Deserialize<'de> for Strings {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Strings;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string or a list of strings")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Strings, E> {
                Ok(Strings(vec![v.to_owned()]))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Strings, E> {
                Ok(Strings(vec![v.to_string()]))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Strings, E> {
                Ok(Strings(vec![v.to_string()]))
            }
            fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<Strings, E> {
                Ok(Strings(vec![v.to_string()]))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Strings, A::Error> {
                let mut out = Vec::new();
                while let Some(s) = seq.next_element::<String>()? {
                    out.push(s);
                }
                Ok(Strings(out))
            }
        }
        d.deserialize_any(V)
    }
}

/// Host keys; the same shape serves `inventory.defaults` and each host.
#[derive(Debug, Default, Clone, Deserialize)]
pub(crate) struct RawHostFields {
    pub(crate) address: Option<String>,
    pub(crate) port: Option<Value>,
    pub(crate) user: Option<String>,
    #[serde(rename = "become")]
    pub(crate) become_: Option<String>,
    pub(crate) transport: Option<String>,
    pub(crate) package_manager: Option<String>,
    #[serde(default)]
    pub(crate) labels: Map<String>,
    pub(crate) instance: Option<String>,
    pub(crate) region: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct RawImport {
    pub(crate) ansible: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct RawSsh {
    pub(crate) config: Option<String>,
    pub(crate) host_key_checking: Option<String>,
    pub(crate) connect_timeout: Option<String>,
    pub(crate) persist: Option<String>,
    pub(crate) connect_rate: Option<Value>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct RawComponent {
    pub(crate) description: Option<String>,
    pub(crate) tier: Option<String>,
    pub(crate) runs_on: Option<String>,
    #[serde(default)]
    pub(crate) depends_on: Vec<String>,
    pub(crate) external: Option<Value>,
    #[serde(default)]
    pub(crate) listens: Vec<Value>,
    #[serde(default)]
    pub(crate) files: Vec<Value>,
    #[serde(default)]
    pub(crate) checks: Vec<RawCheck>,
}

/// A check: common keys plus exactly one kind key (validated, not enforced by serde, so
/// that "no kind" and "two kinds" get their own located messages).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct RawCheck {
    pub(crate) name: Option<String>,
    pub(crate) timeout: Option<String>,
    pub(crate) retries: Option<Value>,
    pub(crate) on: Option<String>,
    pub(crate) http: Option<RawHttp>,
    pub(crate) tcp: Option<RawTcp>,
    pub(crate) dns: Option<RawDns>,
    pub(crate) tls: Option<RawTls>,
    pub(crate) command: Option<RawCommand>,
    pub(crate) process: Option<RawProcess>,
    pub(crate) service: Option<RawService>,
    pub(crate) package: Option<RawPackage>,
    pub(crate) file: Option<RawFile>,
    pub(crate) port: Option<RawPort>,
    pub(crate) amqp: Option<RawAmqp>,
    pub(crate) sql: Option<RawSql>,
    pub(crate) sqs: Option<RawSqs>,
    pub(crate) ldap: Option<RawLdap>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct RawHttp {
    pub(crate) url: String,
    pub(crate) method: Option<String>,
    pub(crate) status: Option<Value>,
    pub(crate) body: Option<String>,
    #[serde(default)]
    pub(crate) headers: Map<String>,
    pub(crate) insecure: Option<Value>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct RawTcp {
    pub(crate) address: String,
}

#[derive(Debug, Deserialize)]
pub(crate) struct RawDns {
    pub(crate) name: String,
    #[serde(rename = "type")]
    pub(crate) record_type: Option<String>,
    pub(crate) server: Option<String>,
    #[serde(default)]
    pub(crate) expect: Vec<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct RawTls {
    pub(crate) address: String,
    pub(crate) server_name: Option<String>,
    pub(crate) min_days: Option<Value>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct RawCommand {
    pub(crate) run: Vec<String>,
    pub(crate) exit: Option<Value>,
    pub(crate) stdout: Option<String>,
    pub(crate) stderr: Option<String>,
    pub(crate) nagios: Option<Value>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct RawProcess {
    pub(crate) name: String,
    pub(crate) min: Option<Value>,
    pub(crate) user: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct RawService {
    pub(crate) name: String,
    pub(crate) pidfile: Option<String>,
    pub(crate) process: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct RawPackage {
    pub(crate) name: String,
    pub(crate) version: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct RawFile {
    pub(crate) path: String,
    pub(crate) exists: Option<Value>,
    pub(crate) mode: Option<String>,
    pub(crate) owner: Option<String>,
    pub(crate) contains: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct RawPort {
    pub(crate) port: Option<Value>,
    pub(crate) address: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct RawAmqp {
    pub(crate) url: String,
}

#[derive(Debug, Deserialize)]
pub(crate) struct RawSql {
    pub(crate) url: String,
    pub(crate) query: String,
    pub(crate) expect: Option<String>,
}

/// `sqs:`. Keys are optional here so that a missing one is a located error.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct RawSqs {
    pub(crate) queue: Option<String>,
    pub(crate) region: Option<String>,
    pub(crate) endpoint_url: Option<String>,
    pub(crate) mode: Option<String>,
    pub(crate) max_depth: Option<Value>,
    pub(crate) max_dead_letter: Option<Value>,
    /// Not answerable: the age of the oldest message is a CloudWatch metric, not a queue
    /// attribute. Read so that the error says so (and points to `max_depth`).
    pub(crate) max_age: Option<Value>,
}

/// `ldap:`. Keys are optional here so that a missing one is a located error.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct RawLdap {
    pub(crate) url: Option<String>,
    pub(crate) bind: Option<RawLdapBind>,
    pub(crate) base: Option<String>,
    pub(crate) filter: Option<String>,
    pub(crate) expect: Option<Value>,
    pub(crate) min: Option<Value>,
}

/// `ldap.bind`: a mapping `{ dn, password }` (a simple bind) or a word naming a SASL
/// mechanism (`external`), checked in `validate`.
#[derive(Debug)]
pub(crate) enum RawLdapBind {
    Simple(RawLdapSimpleBind),
    Mechanism(String),
    /// Anything else, with what was found (for the message).
    Other(Value),
}

/// `ldap.bind: { dn, password }`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct RawLdapSimpleBind {
    pub(crate) dn: Option<String>,
    pub(crate) password: Option<String>,
}

impl<'de> Deserialize<'de> for RawLdapBind {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = RawLdapBind;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("`external` or a mapping { dn, password }")
            }
            fn visit_str<E>(self, v: &str) -> Result<RawLdapBind, E> {
                Ok(RawLdapBind::Mechanism(v.to_owned()))
            }
            // The mapping goes through the derived struct, so its unknown keys are collected
            // like every other's.
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                a: A,
            ) -> Result<RawLdapBind, A::Error> {
                RawLdapSimpleBind::deserialize(serde::de::value::MapAccessDeserializer::new(a))
                    .map(RawLdapBind::Simple)
            }
            fn visit_bool<E>(self, v: bool) -> Result<RawLdapBind, E> {
                Ok(RawLdapBind::Other(Value::Bool(v)))
            }
            fn visit_i64<E>(self, v: i64) -> Result<RawLdapBind, E> {
                Ok(RawLdapBind::Other(Value::Int(v.into())))
            }
            fn visit_u64<E>(self, v: u64) -> Result<RawLdapBind, E> {
                Ok(RawLdapBind::Other(Value::Int(v.into())))
            }
            fn visit_f64<E>(self, v: f64) -> Result<RawLdapBind, E> {
                Ok(RawLdapBind::Other(Value::Float(v)))
            }
            fn visit_unit<E>(self) -> Result<RawLdapBind, E> {
                Ok(RawLdapBind::Other(Value::Null))
            }
            fn visit_none<E>(self) -> Result<RawLdapBind, E> {
                Ok(RawLdapBind::Other(Value::Null))
            }
            fn visit_some<D: serde::Deserializer<'de>>(
                self,
                d: D,
            ) -> Result<RawLdapBind, D::Error> {
                RawLdapBind::deserialize(d)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut a: A,
            ) -> Result<RawLdapBind, A::Error> {
                while a.next_element::<Value>()?.is_some() {}
                Ok(RawLdapBind::Other(Value::List))
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct RawPatch {
    #[serde(default)]
    pub(crate) waves: Vec<RawWave>,
    pub(crate) bake: Option<String>,
    pub(crate) max_failed_hosts: Option<Value>,
    pub(crate) rollback: Option<String>,
    #[serde(default)]
    pub(crate) exclude: Vec<String>,
    pub(crate) failure_domain: Option<String>,
    pub(crate) rollback_scope: Option<String>,
    pub(crate) bisect: Option<String>,
    pub(crate) reboot: Option<String>,
    pub(crate) reboot_timeout: Option<String>,
    pub(crate) restart: Option<String>,
}

/// A wave size: a host count (`1`) or a percentage (`"25%"`).
#[derive(Debug, Clone)]
pub(crate) enum RawWave {
    Count(u64),
    Text(String),
}

impl<'de> Deserialize<'de> for RawWave {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = RawWave;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a host count (1) or a percentage (\"25%\")")
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<RawWave, E> {
                Ok(RawWave::Count(v))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<RawWave, E> {
                u64::try_from(v)
                    .map(RawWave::Count)
                    .map_err(|_| E::custom("a wave size cannot be negative"))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<RawWave, E> {
                Ok(RawWave::Text(v.to_owned()))
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct RawChange {
    pub(crate) approvals_required: Option<Value>,
    #[serde(default)]
    pub(crate) blackouts: Vec<RawBlackout>,
    #[serde(default)]
    pub(crate) windows: Vec<RawWindow>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct RawBlackout {
    pub(crate) name: String,
    pub(crate) from: String,
    pub(crate) to: String,
}

/// An allowed change window: `{ name, days: [mon, …], from: "22:00", to: "04:00" }` (UTC).
#[derive(Debug, Deserialize)]
pub(crate) struct RawWindow {
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) days: Vec<String>,
    pub(crate) from: String,
    pub(crate) to: String,
}

/// `events:`: where the one `send_message` wrapper delivers, decided by configuration alone.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct RawEvents {
    pub(crate) outbox: Option<String>,
    #[serde(default)]
    pub(crate) sinks: Map<RawSink>,
    #[serde(default)]
    pub(crate) routes: Vec<RawRoute>,
}

/// A sink: exactly one kind key (validated, so that "no kind" and "two kinds" are located).
/// Fields inside the kinds are optional here so that a missing one is a located error.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct RawSink {
    pub(crate) file: Option<RawFileSink>,
    pub(crate) webhook: Option<RawWebhookSink>,
    pub(crate) slack: Option<RawSlackSink>,
    pub(crate) pagerduty: Option<RawPagerDutySink>,
    pub(crate) amqp: Option<RawAmqpSink>,
    pub(crate) sqs: Option<RawSqsSink>,
    pub(crate) sns: Option<RawSnsSink>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct RawFileSink {
    pub(crate) path: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct RawWebhookSink {
    pub(crate) url: Option<String>,
    pub(crate) secret_env: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct RawSlackSink {
    pub(crate) url: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct RawPagerDutySink {
    pub(crate) url: Option<String>,
    pub(crate) routing_key_env: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct RawAmqpSink {
    pub(crate) url: Option<String>,
    pub(crate) exchange: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct RawSqsSink {
    pub(crate) queue_url: Option<String>,
    pub(crate) region: Option<String>,
    pub(crate) endpoint: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct RawSnsSink {
    pub(crate) topic_arn: Option<String>,
    pub(crate) region: Option<String>,
    pub(crate) endpoint: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct RawRoute {
    pub(crate) types: Option<String>,
    pub(crate) min_severity: Option<String>,
    #[serde(default)]
    pub(crate) sinks: Vec<String>,
}

/// A scalar whose type is checked in `validate`, not by serde: any YAML value is accepted
/// here (lists and mappings are consumed whole), so one wrong type never hides the others.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Int(i128),
    Float(f64),
    Bool(bool),
    Text(String),
    Null,
    List,
    Map,
}

impl Value {
    /// The value as a whole number: integers, integral floats, and text of digits.
    pub(crate) fn integer(&self) -> Option<i128> {
        match self {
            Value::Int(i) => Some(*i),
            #[expect(
                clippy::cast_possible_truncation,
                reason = "checked to be integral and in range first"
            )]
            Value::Float(f) if f.fract() == 0.0 && f.abs() < 1e30 => Some(*f as i128),
            Value::Text(t) => {
                let t = t.trim();
                let digits = t.strip_prefix('-').unwrap_or(t);
                (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
                    .then(|| t.parse().ok())
                    .flatten()
            }
            _ => None,
        }
    }

    /// The value as a boolean: YAML booleans, and the text `true` or `false`.
    pub(crate) fn boolean(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            Value::Text(t) if t.trim() == "true" => Some(true),
            Value::Text(t) if t.trim() == "false" => Some(false),
            _ => None,
        }
    }

    /// What was found, for messages: `` `abc` ``, `a list`, `nothing`.
    pub(crate) fn found(&self) -> String {
        match self {
            Value::Int(i) => format!("`{i}`"),
            Value::Float(f) => format!("`{f}`"),
            Value::Bool(b) => format!("`{b}`"),
            Value::Text(t) => crate::identity::found_text(t),
            Value::Null => "nothing".into(),
            Value::List => "a list".into(),
            Value::Map => "a mapping".into(),
        }
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Value;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a value")
            }
            fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
                Ok(Value::Bool(v))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
                Ok(Value::Int(v.into()))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
                Ok(Value::Int(v.into()))
            }
            fn visit_i128<E>(self, v: i128) -> Result<Value, E> {
                Ok(Value::Int(v))
            }
            fn visit_u128<E>(self, v: u128) -> Result<Value, E> {
                Ok(i128::try_from(v).map_or(Value::Float(v as f64), Value::Int))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
                Ok(Value::Float(v))
            }
            fn visit_str<E>(self, v: &str) -> Result<Value, E> {
                Ok(Value::Text(v.to_owned()))
            }
            fn visit_unit<E>(self) -> Result<Value, E> {
                Ok(Value::Null)
            }
            fn visit_none<E>(self) -> Result<Value, E> {
                Ok(Value::Null)
            }
            fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
                Value::deserialize(d)
            }
            // Consumed through `Value` itself, not `IgnoredAny`: the unknown-key collector
            // would report every ignored element as an unknown key.
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut a: A) -> Result<Value, A::Error> {
                while a.next_element::<Value>()?.is_some() {}
                Ok(Value::List)
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut a: A) -> Result<Value, A::Error> {
                while a.next_entry::<Value, Value>()?.is_some() {}
                Ok(Value::Map)
            }
        }
        d.deserialize_any(V)
    }
}

/// A mapping with free keys (hosts, components, labels, …) that keeps the first value of a
/// repeated key and remembers that it saw one.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Map<V> {
    entries: IndexMap<String, V>,
    repeated: bool,
}

impl<V> Default for Map<V> {
    fn default() -> Self {
        Self {
            entries: IndexMap::new(),
            repeated: false,
        }
    }
}

impl<V> Map<V> {
    /// Whether a key appeared more than once.
    pub(crate) fn repeated(&self) -> bool {
        self.repeated
    }

    /// The entries, in file order.
    pub(crate) fn into_inner(self) -> IndexMap<String, V> {
        self.entries
    }
}

impl<V> From<IndexMap<String, V>> for Map<V> {
    fn from(entries: IndexMap<String, V>) -> Self {
        Self {
            entries,
            repeated: false,
        }
    }
}

impl<V> std::ops::Deref for Map<V> {
    type Target = IndexMap<String, V>;
    fn deref(&self) -> &Self::Target {
        &self.entries
    }
}

impl<V> IntoIterator for Map<V> {
    type Item = (String, V);
    type IntoIter = indexmap::map::IntoIter<String, V>;
    fn into_iter(self) -> Self::IntoIter {
        self.entries.into_iter()
    }
}

impl<'a, V> IntoIterator for &'a Map<V> {
    type Item = (&'a String, &'a V);
    type IntoIter = indexmap::map::Iter<'a, String, V>;
    fn into_iter(self) -> Self::IntoIter {
        self.entries.iter()
    }
}

impl<'de, V: Deserialize<'de>> Deserialize<'de> for Map<V> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit<V>(std::marker::PhantomData<V>);
        impl<'de, V: Deserialize<'de>> serde::de::Visitor<'de> for Visit<V> {
            type Value = Map<V>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a mapping")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut a: A) -> Result<Map<V>, A::Error> {
                let mut map = Map::default();
                while let Some(key) = a.next_key::<String>()? {
                    let value = a.next_value::<V>()?;
                    if map.entries.contains_key(&key) {
                        map.repeated = true;
                    } else {
                        map.entries.insert(key, value);
                    }
                }
                Ok(map)
            }
        }
        d.deserialize_map(Visit(std::marker::PhantomData))
    }
}

impl RawConfig {
    /// Whether the document set nothing at all (empty, only comments, `{}`).
    pub(crate) fn is_blank(&self) -> bool {
        let i = &self.inventory;
        let d = &i.defaults;
        let defaults_blank = d.address.is_none()
            && d.port.is_none()
            && d.user.is_none()
            && d.become_.is_none()
            && d.transport.is_none()
            && d.package_manager.is_none()
            && d.labels.is_empty()
            && d.instance.is_none()
            && d.region.is_none();
        defaults_blank
            && i.hosts.is_empty()
            && i.groups.is_empty()
            && i.import.is_empty()
            && i.ssh.is_none()
            && i.concurrency.is_none()
            && i.ec2.is_empty()
            && i.ssm.is_none()
            && self.components.is_empty()
            && self.patch.is_none()
            && self.change.is_none()
            && self.events.is_none()
            && self.store.is_none()
            && self.parity.is_none()
            && self.serve.is_none()
            && self.monitor.is_none()
    }

    /// Whether any mapping with free keys repeated a key (repeated struct fields make the
    /// typed pass fail instead).
    pub(crate) fn repeated_keys(&self) -> bool {
        let hosts = |i: &RawInventory| {
            i.hosts.repeated()
                || i.groups.repeated()
                || i.defaults.labels.repeated()
                || i.hosts.values().any(|h| h.labels.repeated())
        };
        let checks = |c: &RawComponent| {
            c.checks
                .iter()
                .any(|k| k.http.as_ref().is_some_and(|h| h.headers.repeated()))
        };
        hosts(&self.inventory)
            || self.components.repeated()
            || self.components.values().any(checks)
            || self.events.as_ref().is_some_and(|e| e.sinks.repeated())
    }
}
