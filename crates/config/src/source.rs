//! A span index over the YAML document: where every key and value is, by path.
//!
//! Typed deserialization tells us *what* is wrong; this tree tells us *where*. It is parsed
//! with the same YAML parser as the typed model, so positions agree.

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;
use std::fmt;

/// One step of a path into the document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Seg {
    /// A mapping key.
    Key(String),
    /// A sequence index.
    Index(usize),
}

impl fmt::Display for Seg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Seg::Key(k) => f.write_str(k),
            Seg::Index(i) => write!(f, "[{i}]"),
        }
    }
}

/// Render a path as `components.checkout.checks[0].http`.
pub(crate) fn path_string(path: &[Seg]) -> String {
    let mut s = String::new();
    for seg in path {
        match seg {
            Seg::Key(k) => {
                if !s.is_empty() {
                    s.push('.');
                }
                s.push_str(k);
            }
            Seg::Index(i) => s.push_str(&format!("[{i}]")),
        }
    }
    s
}

/// A byte range in the source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    /// Byte offset of the first byte.
    pub offset: usize,
    /// Length in bytes (at least 1 where the source has any byte there).
    pub len: usize,
}

#[derive(Debug)]
enum Node {
    Map(Vec<(Spanned<String>, Spanned<Node>)>),
    Seq(Vec<Spanned<Node>>),
    Scalar,
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

macro_rules! scalar {
    ($($name:ident: $ty:ty),*) => {$(
        fn $name<E: de::Error>(self, _v: $ty) -> Result<Node, E> { Ok(Node::Scalar) }
    )*};
}

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }
    scalar!(visit_bool: bool, visit_i64: i64, visit_u64: u64, visit_f64: f64, visit_str: &str,
            visit_i128: i128, visit_u128: u128, visit_bytes: &[u8]);
    fn visit_unit<E: de::Error>(self) -> Result<Node, E> {
        Ok(Node::Scalar)
    }
    fn visit_none<E: de::Error>(self) -> Result<Node, E> {
        Ok(Node::Scalar)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Node, D::Error> {
        d.deserialize_any(NodeVisitor)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Spanned<Node>>()? {
            items.push(item);
        }
        Ok(Node::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<Spanned<String>>()? {
            let value = map.next_value::<Spanned<Node>>()?;
            entries.push((key, value));
        }
        Ok(Node::Map(entries))
    }
}

/// Spans of every key and value of one YAML document.
#[derive(Debug)]
pub(crate) struct SourceMap {
    root: Option<Spanned<Node>>,
    src: String,
}

/// Byte span of a serde-saphyr location in `src` (from its byte offset, else from line and
/// column, which syntax errors carry even when byte offsets are unknown).
pub(crate) fn location_span(loc: &serde_saphyr::Location, src: &str) -> Option<Span> {
    if loc.line() == 0 {
        return None;
    }
    let s = loc.span();
    let offset = match s.byte_offset().and_then(|o| usize::try_from(o).ok()) {
        Some(o) => o,
        None => {
            let line_start: usize = src
                .split_inclusive('\n')
                .take(usize::try_from(loc.line()).ok()? - 1)
                .map(str::len)
                .sum();
            let col = usize::try_from(loc.column()).ok()?.saturating_sub(1);
            line_start
                + src[line_start.min(src.len())..]
                    .chars()
                    .take(col)
                    .map(char::len_utf8)
                    .sum::<usize>()
        }
    };
    let offset = offset.min(src.len());
    let len = s
        .byte_len()
        .and_then(|l| usize::try_from(l).ok())
        .unwrap_or(1)
        .max(1);
    Some(Span {
        offset,
        len: len
            .min(src.len() - offset)
            .max(usize::from(src.len() > offset)),
    })
}

impl SourceMap {
    /// Index `src`. A document the index cannot read still yields a map that answers
    /// `None`; the typed pass reports the syntax error itself.
    pub(crate) fn new(src: &str) -> Self {
        let root = serde_saphyr::from_str::<Spanned<Node>>(src).ok();
        Self {
            root,
            src: src.to_owned(),
        }
    }

    fn find(&self, path: &[Seg]) -> Option<(Option<&Spanned<String>>, &Spanned<Node>)> {
        let mut key = None;
        let mut node = self.root.as_ref()?;
        for seg in path {
            match (seg, &node.value) {
                (Seg::Key(k), Node::Map(entries)) => {
                    let (kk, v) = entries.iter().find(|(kk, _)| &kk.value == k)?;
                    key = Some(kk);
                    node = v;
                }
                (Seg::Index(i), Node::Seq(items)) => {
                    key = None;
                    node = items.get(*i)?;
                }
                _ => return None,
            }
        }
        Some((key, node))
    }

    /// The span of the key that ends `path` (falls back to the value for sequence items).
    pub(crate) fn key(&self, path: &[Seg]) -> Option<Span> {
        let (key, node) = self.find(path)?;
        match key {
            Some(k) => location_span(&k.referenced, &self.src),
            None => location_span(&node.referenced, &self.src),
        }
    }

    /// The span of the value at `path`.
    pub(crate) fn value(&self, path: &[Seg]) -> Option<Span> {
        let (key, node) = self.find(path)?;
        location_span(&node.referenced, &self.src)
            .or_else(|| key.and_then(|k| location_span(&k.referenced, &self.src)))
    }

    /// The nearest span along `path`: the value, else the key, else the closest ancestor.
    pub(crate) fn nearest(&self, path: &[Seg]) -> Option<Span> {
        (0..=path.len())
            .rev()
            .find_map(|n| self.value(&path[..n]).or_else(|| self.key(&path[..n])))
    }
}

/// Build a path from string-ish segments: `p!["components", name, "checks", 0]`.
macro_rules! p {
    ($($seg:expr),* $(,)?) => { [$($crate::source::IntoSeg::into_seg($seg)),*] };
}
pub(crate) use p;

/// Conversion used by [`p!`].
pub(crate) trait IntoSeg {
    fn into_seg(self) -> Seg;
}
impl IntoSeg for &str {
    fn into_seg(self) -> Seg {
        Seg::Key(self.to_owned())
    }
}
impl IntoSeg for &String {
    fn into_seg(self) -> Seg {
        Seg::Key(self.clone())
    }
}
impl IntoSeg for usize {
    fn into_seg(self) -> Seg {
        Seg::Index(self)
    }
}
