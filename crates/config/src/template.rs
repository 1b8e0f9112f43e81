//! `{host.address}`-style templates in check fields.
//!
//! Variables: `{host.name}`, `{host.address}`, `{host.port}`, `{host.user}`,
//! `{host.labels.KEY}`. `{{` and `}}` are literal braces. Anything else in braces is a
//! config error, caught at load time rather than at check time.

use crate::model::Host;
use std::fmt;

/// The variables a template may use, for error messages and suggestions.
pub(crate) const VARIABLES: &[&str] = &[
    "host.name",
    "host.address",
    "host.port",
    "host.user",
    "host.labels.KEY",
];

/// A parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    raw: String,
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Var(Var),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Var {
    Name,
    Address,
    Port,
    User,
    Label(String),
}

/// A template that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// `{host.adress}`.
    #[error("unknown template variable `{{{name}}}`")]
    Unknown {
        /// What was written between the braces.
        name: String,
        /// Byte offset of `{` within the template.
        offset: usize,
    },
    /// `{host.address` without the closing brace.
    #[error("unclosed `{{` in template")]
    Unclosed {
        /// Byte offset of `{`.
        offset: usize,
    },
}

impl TemplateError {
    /// Offset of the problem within the template text.
    pub fn offset(&self) -> usize {
        match self {
            TemplateError::Unknown { offset, .. } | TemplateError::Unclosed { offset } => *offset,
        }
    }
}

impl Template {
    /// Parse `text`.
    pub fn parse(text: &str) -> Result<Self, TemplateError> {
        let mut parts = Vec::new();
        let mut lit = String::new();
        let mut rest = text;
        let mut pos = 0;
        while let Some(i) = rest.find(['{', '}']) {
            lit.push_str(&rest[..i]);
            let brace = rest.as_bytes()[i];
            let after = &rest[i + 1..];
            if after.as_bytes().first() == Some(&brace) {
                lit.push(char::from(brace));
                rest = &after[1..];
                pos += i + 2;
                continue;
            }
            if brace == b'}' {
                lit.push('}');
                rest = after;
                pos += i + 1;
                continue;
            }
            let end = after
                .find('}')
                .ok_or(TemplateError::Unclosed { offset: pos + i })?;
            let name = after[..end].trim();
            let var = match name {
                "host.name" => Var::Name,
                "host.address" => Var::Address,
                "host.port" => Var::Port,
                "host.user" => Var::User,
                n => match n.strip_prefix("host.labels.") {
                    Some(k) if !k.is_empty() => Var::Label(k.to_owned()),
                    _ => {
                        return Err(TemplateError::Unknown {
                            name: name.to_owned(),
                            offset: pos + i,
                        });
                    }
                },
            };
            if !lit.is_empty() {
                parts.push(Part::Text(std::mem::take(&mut lit)));
            }
            parts.push(Part::Var(var));
            rest = &after[end + 1..];
            pos += i + 1 + end + 1;
        }
        lit.push_str(rest);
        if !lit.is_empty() {
            parts.push(Part::Text(lit));
        }
        Ok(Self {
            raw: text.to_owned(),
            parts,
        })
    }

    /// Whether the template refers to a host.
    pub fn uses_host(&self) -> bool {
        self.parts.iter().any(|p| matches!(p, Part::Var(_)))
    }

    /// Expand for `host`; without a host, variables expand to nothing — callers only do that
    /// for templates where [`Template::uses_host`] is false.
    pub fn expand(&self, host: Option<&Host>) -> String {
        let mut out = String::with_capacity(self.raw.len());
        for part in &self.parts {
            match (part, host) {
                (Part::Text(t), _) => out.push_str(t),
                (Part::Var(_), None) => {}
                (Part::Var(v), Some(h)) => match v {
                    Var::Name => out.push_str(&h.name),
                    Var::Address => out.push_str(&h.address),
                    Var::Port => out.push_str(&h.port.to_string()),
                    Var::User => out.push_str(&h.user),
                    Var::Label(k) => out.push_str(h.labels.get(k).map_or("", String::as_str)),
                },
            }
        }
        out
    }

    /// The template as written.
    pub fn as_str(&self) -> &str {
        &self.raw
    }
}

impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expands_host_fields_and_escapes() {
        let host = Host {
            name: "web-1".into(),
            address: "10.0.0.1".into(),
            port: 22,
            user: "root".into(),
            become_: None,
            transport: crate::model::TransportKind::Ssh,
            package_manager: None,
            labels: [("az".to_owned(), "a".to_owned())].into(),
            instance: None,
            region: None,
            source: crate::HostSource::Config,
        };
        let t =
            Template::parse("http://{host.address}:8080/{host.labels.az}/{{x}}").expect("valid");
        assert!(t.uses_host());
        assert_eq!(t.expand(Some(&host)), "http://10.0.0.1:8080/a/{x}");
        assert!(!Template::parse("plain").expect("valid").uses_host());
    }

    #[test]
    fn unknown_and_unclosed_are_errors_with_offsets() {
        assert_eq!(
            Template::parse("http://{host.adress}/"),
            Err(TemplateError::Unknown {
                name: "host.adress".into(),
                offset: 7
            })
        );
        assert_eq!(
            Template::parse("ab{host.name"),
            Err(TemplateError::Unclosed { offset: 2 })
        );
    }
}
