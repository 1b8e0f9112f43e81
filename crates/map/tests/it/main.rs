//! The map crate's integration tests, one binary: the SVG read back with a real XML parser,
//! the layout's geometry on the lab's shop, a generated 60-component map and a
//! 500-component one, property tests over random maps (geometry and determinism), DOT,
//! Mermaid and text snapshots, hostile names in every format, the DOT output through a real
//! Graphviz when one is installed, and the queries.

mod common;
mod escaping;
mod generate;
mod geometry;
mod graphviz;
mod props;
mod query;
mod snapshots;
mod svg;
