//! What can be wrong with a map or a question asked of it. Names in messages go through
//! [`clean`], so an error printed to a terminal cannot drive it.

use crate::escape::clean;

/// An error of this crate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MapError {
    /// [`Map::validate`](crate::Map::validate) found problems; all of them are listed.
    #[error("invalid map: {}", list(problems))]
    Invalid {
        /// Every problem, in the order of the nodes and edges that have them.
        problems: Vec<Problem>,
    },
    /// A query named a component the map does not have.
    #[error("unknown component `{}`{}", clean(name), did_you_mean(close))]
    UnknownComponent {
        /// The name asked for.
        name: String,
        /// Components with a similar name, closest first (at most five).
        close: Vec<String>,
    },
}

/// One thing wrong with a map.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    /// Two nodes share a name.
    #[error("component `{}` is listed more than once", clean(name))]
    DuplicateNode {
        /// The shared name.
        name: String,
    },
    /// An edge names a component the map does not have.
    #[error(
        "edge `{}` → `{}` names unknown component `{}`",
        clean(from),
        clean(to),
        clean(missing)
    )]
    UnknownEndpoint {
        /// The edge's `from`.
        from: String,
        /// The edge's `to`.
        to: String,
        /// The endpoint that is not a component (`from` or `to`).
        missing: String,
    },
    /// An edge from a component to itself.
    #[error("component `{}` depends on itself", clean(name))]
    SelfEdge {
        /// The component.
        name: String,
    },
    /// Two edges join the same two components in the same direction.
    #[error("edge `{}` → `{}` is listed more than once", clean(from), clean(to))]
    DuplicateEdge {
        /// The edge's `from`.
        from: String,
        /// The edge's `to`.
        to: String,
    },
}

fn list(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

fn did_you_mean(close: &[String]) -> String {
    if close.is_empty() {
        return String::new();
    }
    let names: Vec<String> = close.iter().map(|c| format!("`{}`", clean(c))).collect();
    format!(" (did you mean {}?)", names.join(", "))
}
