//! Unknown-key detection with "did you mean" hints.
//!
//! serde stops at the first unknown key; users want all of them at once. So the typed pass
//! runs under `serde_ignored`, which reports every key no struct consumed, and the valid
//! keys at each place are read from the raw structs themselves (`fields_of`), so this
//! module can never drift from `raw`.

use crate::raw::{
    RawAmqp, RawAmqpSink, RawBlackout, RawChange, RawCheck, RawCommand, RawComponent, RawConfig,
    RawDns, RawEc2, RawEvents, RawFile, RawFileSink, RawHostFields, RawHttp, RawIdentity,
    RawImport, RawInventory, RawLdap, RawLdapSimpleBind, RawMonitor, RawPackage, RawPagerDutySink,
    RawParity, RawPatch, RawPort, RawProcess, RawRoles, RawRoute, RawServe, RawService, RawSink,
    RawSlackSink, RawSnsSink, RawSql, RawSqs, RawSqsSink, RawSsh, RawSsm, RawTcp, RawTls,
    RawWebhookSink, RawWindow,
};
use crate::source::Seg;
use serde::de::{self, Deserialize, Deserializer, Visitor};

/// The field names a derived `Deserialize` struct accepts.
pub(crate) fn fields_of<'de, T: Deserialize<'de>>() -> &'static [&'static str] {
    let mut fields = None;
    let _ = T::deserialize(FieldsProbe(&mut fields));
    fields.unwrap_or(&[])
}

struct FieldsProbe<'a>(&'a mut Option<&'static [&'static str]>);

impl<'de> Deserializer<'de> for FieldsProbe<'_> {
    type Error = de::value::Error;
    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
        Err(de::Error::custom("not a struct"))
    }
    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Self::Error> {
        *self.0 = Some(fields);
        Err(de::Error::custom("fields probed"))
    }
    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf option
        unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier ignored_any
    }
}

/// The check kind keys, in the order they are documented.
pub(crate) const CHECK_KINDS: &[&str] = &[
    "http", "tcp", "dns", "tls", "command", "process", "service", "package", "file", "port",
    "amqp", "sql", "sqs", "ldap",
];

/// The sink kind keys, in the order they are documented.
pub(crate) const SINK_KINDS: &[&str] = &[
    "file",
    "webhook",
    "slack",
    "pagerduty",
    "amqp",
    "sqs",
    "sns",
];

/// The valid keys of the mapping at `path`, when that mapping is a struct.
pub(crate) fn expected_at(path: &[Seg]) -> Option<&'static [&'static str]> {
    use Seg::{Index as I, Key as K};
    fn k(s: &Seg) -> Option<&str> {
        match s {
            K(k) => Some(k.as_str()),
            I(_) => None,
        }
    }
    let keys: Vec<Option<&str>> = path.iter().map(k).collect();
    Some(match keys.as_slice() {
        [] => fields_of::<RawConfig>(),
        [Some("inventory")] => fields_of::<RawInventory>(),
        [Some("inventory"), Some("defaults")] | [Some("inventory"), Some("hosts"), Some(_)] => {
            fields_of::<RawHostFields>()
        }
        [Some("inventory"), Some("ssh")] => fields_of::<RawSsh>(),
        [Some("inventory"), Some("ssm")] => fields_of::<RawSsm>(),
        [Some("inventory"), Some("ec2"), None] => fields_of::<RawEc2>(),
        [Some("inventory"), Some("ec2"), None, Some("defaults")] => fields_of::<RawHostFields>(),
        [Some("inventory"), Some("import"), None] => fields_of::<RawImport>(),
        [Some("components"), Some(_)] => fields_of::<RawComponent>(),
        [Some("components"), Some(_), Some("checks"), None] => fields_of::<RawCheck>(),
        [
            Some("components"),
            Some(_),
            Some("checks"),
            None,
            Some(kind),
        ] => match *kind {
            "http" => fields_of::<RawHttp>(),
            "tcp" => fields_of::<RawTcp>(),
            "dns" => fields_of::<RawDns>(),
            "tls" => fields_of::<RawTls>(),
            "command" => fields_of::<RawCommand>(),
            "process" => fields_of::<RawProcess>(),
            "service" => fields_of::<RawService>(),
            "package" => fields_of::<RawPackage>(),
            "file" => fields_of::<RawFile>(),
            "port" => fields_of::<RawPort>(),
            "amqp" => fields_of::<RawAmqp>(),
            "sql" => fields_of::<RawSql>(),
            "sqs" => fields_of::<RawSqs>(),
            "ldap" => fields_of::<RawLdap>(),
            _ => return None,
        },
        [
            Some("components"),
            Some(_),
            Some("checks"),
            None,
            Some("ldap"),
            Some("bind"),
        ] => fields_of::<RawLdapSimpleBind>(),
        [Some("patch")] => fields_of::<RawPatch>(),
        [Some("parity")] => fields_of::<RawParity>(),
        [Some("serve")] => fields_of::<RawServe>(),
        [Some("monitor")] => fields_of::<RawMonitor>(),
        [Some("identity")] => fields_of::<RawIdentity>(),
        [Some("identity"), Some("roles")] => fields_of::<RawRoles>(),
        [Some("change")] => fields_of::<RawChange>(),
        [Some("change"), Some("blackouts"), None] => fields_of::<RawBlackout>(),
        [Some("change"), Some("windows"), None] => fields_of::<RawWindow>(),
        [Some("events")] => fields_of::<RawEvents>(),
        [Some("events"), Some("sinks"), Some(_)] => fields_of::<RawSink>(),
        [Some("events"), Some("sinks"), Some(_), Some(kind)] => match *kind {
            "file" => fields_of::<RawFileSink>(),
            "webhook" => fields_of::<RawWebhookSink>(),
            "slack" => fields_of::<RawSlackSink>(),
            "pagerduty" => fields_of::<RawPagerDutySink>(),
            "amqp" => fields_of::<RawAmqpSink>(),
            "sqs" => fields_of::<RawSqsSink>(),
            "sns" => fields_of::<RawSnsSink>(),
            _ => return None,
        },
        [Some("events"), Some("routes"), None] => fields_of::<RawRoute>(),
        _ => return None,
    })
}

/// Convert a `serde_ignored` path into ours (dropping `Option`/newtype steps).
pub(crate) fn convert_path(path: &serde_ignored::Path<'_>) -> Vec<Seg> {
    let mut out = Vec::new();
    let mut cur = path;
    loop {
        match cur {
            serde_ignored::Path::Root => break,
            serde_ignored::Path::Seq { parent, index } => {
                out.push(Seg::Index(*index));
                cur = parent;
            }
            serde_ignored::Path::Map { parent, key } => {
                out.push(Seg::Key(key.clone()));
                cur = parent;
            }
            serde_ignored::Path::Some { parent }
            | serde_ignored::Path::NewtypeStruct { parent }
            | serde_ignored::Path::NewtypeVariant { parent } => cur = parent,
        }
    }
    out.reverse();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_come_from_the_structs() {
        assert!(fields_of::<RawConfig>().contains(&"components"));
        assert!(fields_of::<RawHostFields>().contains(&"become"));
        assert_eq!(fields_of::<RawCheck>().len(), 4 + CHECK_KINDS.len());
        assert_eq!(fields_of::<RawSink>(), SINK_KINDS);
    }
}
