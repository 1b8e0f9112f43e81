//! The dependency map of an environment, on one page.
//!
//! `fearless map` shows which component depends on which, grouped by tier, with external
//! services apart, and — on request — each component's health, the root suspects of a
//! failure, and what breaks with (or is needed by) one component. This crate is the pure
//! part: the model, the questions asked of it, a layout, and the renderers. It does no
//! I/O, runs no process and depends on no other fearless crate; the CLI builds the
//! [`Map`] from the config (and the last check results) and writes what a renderer
//! returns.
//!
//! # The model
//!
//! A [`Map`] holds [`Node`]s (components: name, optional tier, external or not, hosts,
//! description, optional [`Status`], `suspect`, and a [`Mark`] for focused views) and
//! [`Edge`]s. An edge `from → to` means *`from` depends on `to`*, the direction of
//! `depends_on`, and has an [`EdgeKind`]: `Declared` (in `depends_on`), `Undeclared`
//! (observed live but not declared: drawn red, dashed, labelled) or `Unobserved`
//! (declared but never seen live: drawn grey, dotted). All types are serde types; enums
//! are written in kebab-case.
//!
//! [`Map::validate`] reports, all at once, duplicate names, edges naming unknown
//! components, self-loops and repeated edges. Nothing else in the crate requires a valid
//! map: queries and renderers leave out (or flag, in the text view) edges to unknown
//! components, and resolve a duplicated name to its first node.
//!
//! # Questions
//!
//! - [`Map::impact`]: what breaks if a component breaks — everything that depends on it,
//!   transitively, sorted by distance then name. [`Map::needs`]: everything it depends
//!   on. Both follow declared and undeclared edges, not unobserved ones. An unknown name
//!   is an error that lists the closest names.
//! - [`Map::focus`] marks a map for `--impact` / `--needs`: the component `Focus`, the set
//!   `Highlighted`, the rest `Dimmed`.
//! - [`Map::subset`] keeps the named components and the edges among them (`--components`);
//!   neighbours outside the list are not drawn.
//!
//! # Drawing
//!
//! Renderers are plain functions `fn(&Map) -> String`, deterministic (the same map gives
//! the same bytes): [`svg()`], [`dot()`], [`mermaid()`], [`json()`], [`human()`].
//!
//! The SVG is laid out here, without Graphviz, by [`layout::layered`] — a layered
//! (Sugiyama-style) layout: components above what they need, externals in a band at the
//! bottom, long edges routed through gaps with dummy points, crossings reduced by
//! barycenter sweeps with each tier kept contiguous, one rounded box per tier. Its
//! guarantees, which the tests check on small, 60- and 500-component maps and on random
//! ones: no two component boxes overlap, no two tier boxes overlap, every component lies in
//! its tier's box, no edge passes through a box other than its two ends', and every
//! coordinate is finite and inside the drawing. The module documentation of [`layout`]
//! explains how. Boxes have one size per map, estimated from the text (monospace, 7.2 px
//! per character at 12 px); longer names are cut with `…` and the full text is in the
//! box's `<title>` tooltip. A 500-component map is laid out and drawn in well under a
//! second (`cargo run --release -p fearless-map --example map_bench`).
//!
//! # Hostile text
//!
//! Everything shown is escaped for where it is shown. Control and format characters
//! (escape sequences, newlines, bidirectional overrides) become visible escapes (`\x1b`,
//! `\n`, `\u{202e}`) in every format — see [`escape::clean`]; then SVG gets XML entities
//! for `& < > " '`, DOT backslash escapes inside quoted ids and labels, Mermaid `#quot;`
//! and numeric codes, JSON `\u` escapes. DOT and Mermaid ids are `n0`, `n1`, … so a name
//! never becomes syntax.
//!
//! # Example
//!
//! ```
//! use fearless_map::{Direction, Edge, EdgeKind, Map, Node};
//!
//! let tier = |name: &str, tier: &str| Node { tier: Some(tier.to_owned()), ..Node::new(name) };
//! let mut map = Map {
//!     nodes: vec![tier("checkout", "web"), tier("orders-api", "api"), tier("ledger", "data")],
//!     edges: vec![
//!         Edge::new("checkout", "orders-api", EdgeKind::Declared),
//!         Edge::new("orders-api", "ledger", EdgeKind::Declared),
//!     ],
//! };
//! map.validate()?;
//! assert_eq!(map.impact("ledger")?, ["orders-api", "checkout"]);
//! map.focus("orders-api", Direction::Needs)?;
//! let svg = fearless_map::svg(&map);
//! assert!(svg.starts_with("<svg"));
//! assert!(fearless_map::human(&map).contains("→ ledger"));
//! # Ok::<(), fearless_map::MapError>(())
//! ```

mod error;
pub mod escape;
pub mod layout;
mod model;
mod query;
pub mod render;
mod text;

pub use error::{MapError, Problem};
pub use layout::{Layout, layered};
pub use model::{Edge, EdgeKind, Map, Mark, Node, Status};
pub use query::Direction;
pub use render::{dot, human, json, mermaid, svg, svg_with_layout};
