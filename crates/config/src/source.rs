//! A span index over a YAML document: where every key and value is, by path.
//!
//! Typed deserialization tells us *what* is wrong; this tree tells us *where*. It is parsed
//! with the same YAML parser and budgets as the typed model, so positions agree, but
//! duplicate keys are kept (each one is reported, located, from here) and the tree is
//! compact (a span is two `u32`s), so a 100,000-host inventory indexes in a few dozen MiB.
//! The Ansible YAML import reads its inventories through the same tree.

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;
use std::collections::HashMap;
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

/// Where a node is, as byte offset and length (`u32`: inputs are at most 64 MiB).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Pos {
    offset: u32,
    len: u32,
}

impl Pos {
    fn of(loc: &serde_saphyr::Location) -> Option<Self> {
        let s = loc.span();
        Some(Self {
            offset: u32::try_from(s.byte_offset()?).ok()?,
            len: u32::try_from(s.byte_len().unwrap_or(1)).unwrap_or(u32::MAX),
        })
    }

    pub(crate) fn span(self, src_len: usize) -> Span {
        let offset = (self.offset as usize).min(src_len);
        let len = (self.len as usize)
            .max(1)
            .min(src_len - offset)
            .max(usize::from(src_len > offset));
        Span { offset, len }
    }
}

/// A node of the document.
#[derive(Debug)]
pub(crate) struct Node {
    pub(crate) pos: Option<Pos>,
    pub(crate) kind: Kind,
}

/// What a node holds.
#[derive(Debug)]
pub(crate) enum Kind {
    /// Entries in document order (duplicates kept).
    Map(Vec<Entry>),
    /// Items in order.
    Seq(Vec<Node>),
    /// A scalar as text (`22`, `true`, `web-1`); `None` for null.
    Scalar(Option<Box<str>>),
}

/// One `key: value` of a mapping.
#[derive(Debug)]
pub(crate) struct Entry {
    pub(crate) key: Box<str>,
    pub(crate) key_pos: Option<Pos>,
    pub(crate) value: Node,
    /// The parser typed the key (`on`, `22`, `~`): its text is taken from the source.
    typed_key: bool,
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = Spanned::<Kind>::deserialize(d)?;
        Ok(Node {
            pos: Pos::of(&s.referenced),
            kind: s.value,
        })
    }
}

impl<'de> Deserialize<'de> for Kind {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(KindVisitor)
    }
}

struct KindVisitor;

macro_rules! scalar {
    ($($name:ident: $ty:ty),*) => {$(
        fn $name<E: de::Error>(self, v: $ty) -> Result<Kind, E> {
            Ok(Kind::Scalar(Some(v.to_string().into_boxed_str())))
        }
    )*};
}

impl<'de> Visitor<'de> for KindVisitor {
    type Value = Kind;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }
    scalar!(visit_bool: bool, visit_i64: i64, visit_u64: u64, visit_f64: f64, visit_str: &str,
            visit_i128: i128, visit_u128: u128);
    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Kind, E> {
        Ok(Kind::Scalar(Some(
            String::from_utf8_lossy(v).into_owned().into_boxed_str(),
        )))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Kind, E> {
        Ok(Kind::Scalar(None))
    }
    fn visit_none<E: de::Error>(self) -> Result<Kind, E> {
        Ok(Kind::Scalar(None))
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Kind, D::Error> {
        d.deserialize_any(KindVisitor)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Kind, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Node>()? {
            items.push(item);
        }
        items.shrink_to_fit();
        Ok(Kind::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Kind, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<Spanned<Key>>()? {
            let value = map.next_value::<Node>()?;
            entries.push(Entry {
                key: key.value.text,
                key_pos: Pos::of(&key.referenced),
                value,
                typed_key: key.value.typed,
            });
        }
        entries.shrink_to_fit();
        Ok(Kind::Map(entries))
    }
}

/// A mapping key as text, whatever YAML allows there. A key the parser typed (`on` read as
/// a boolean, `0x1F` as a number, `~` as null) is re-read from the source as written
/// ([`SourceMap::parse`]); a list or mapping used as a key (consumed whole) is `?`. The typed
/// pass refuses what fearless does not accept; the index must still place every other
/// problem of such a file.
struct Key {
    text: Box<str>,
    typed: bool,
}

impl Key {
    fn typed(text: &str) -> Self {
        Self {
            text: text.into(),
            typed: true,
        }
    }
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        macro_rules! typed {
            ($($name:ident: $ty:ty),*) => {$(
                fn $name<E: de::Error>(self, v: $ty) -> Result<Key, E> {
                    Ok(Key::typed(&v.to_string()))
                }
            )*};
        }
        impl<'de> Visitor<'de> for V {
            type Value = Key;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a mapping key")
            }
            typed!(visit_bool: bool, visit_i64: i64, visit_u64: u64, visit_f64: f64,
                   visit_i128: i128, visit_u128: u128);
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key, E> {
                Ok(Key {
                    text: v.into(),
                    typed: false,
                })
            }
            fn visit_unit<E: de::Error>(self) -> Result<Key, E> {
                Ok(Key::typed("~"))
            }
            fn visit_none<E: de::Error>(self) -> Result<Key, E> {
                Ok(Key::typed("~"))
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Key, D::Error> {
                Key::deserialize(d)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<Key, A::Error> {
                while a.next_element::<de::IgnoredAny>()?.is_some() {}
                Ok(Key {
                    text: "?".into(),
                    typed: false,
                })
            }
            fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Key, A::Error> {
                while a.next_entry::<de::IgnoredAny, de::IgnoredAny>()?.is_some() {}
                Ok(Key {
                    text: "?".into(),
                    typed: false,
                })
            }
        }
        d.deserialize_any(V)
    }
}

/// Spans of every key and value of one YAML document.
#[derive(Debug)]
pub(crate) struct SourceMap {
    root: Option<Node>,
    src_len: usize,
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
    let offset = src.floor_char_boundary(offset.min(src.len()));
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

/// A key that appears more than once in one mapping.
#[derive(Debug)]
pub(crate) struct Duplicate {
    /// Path of the mapping holding it.
    pub(crate) parent: Vec<Seg>,
    pub(crate) key: String,
    /// The repeated key.
    pub(crate) span: Option<Span>,
    /// The first occurrence.
    pub(crate) first: Option<Span>,
}

impl SourceMap {
    /// An index that answers `None` everywhere.
    pub(crate) fn empty(src_len: usize) -> Self {
        Self {
            root: None,
            src_len,
        }
    }

    /// Index `src`, or the parser's error.
    pub(crate) fn parse(src: &str) -> Result<Self, serde_saphyr::Error> {
        let mut root = serde_saphyr::from_str_with_options::<Node>(src, crate::yaml::options())?;
        retext_typed_keys(&mut root, src);
        Ok(Self {
            root: Some(root),
            src_len: src.len(),
        })
    }

    /// The document's root node.
    pub(crate) fn root(&self) -> Option<&Node> {
        self.root.as_ref()
    }

    /// The span of a node or key position.
    pub(crate) fn span(&self, pos: Option<Pos>) -> Option<Span> {
        pos.map(|p| p.span(self.src_len))
    }

    fn find(&self, path: &[Seg]) -> Option<(Option<&Entry>, &Node)> {
        let mut entry = None;
        let mut node = self.root.as_ref()?;
        for seg in path {
            match (seg, &node.kind) {
                (Seg::Key(k), Kind::Map(entries)) => {
                    let e = entries.iter().find(|e| &*e.key == k.as_str())?;
                    entry = Some(e);
                    node = &e.value;
                }
                (Seg::Index(i), Kind::Seq(items)) => {
                    entry = None;
                    node = items.get(*i)?;
                }
                _ => return None,
            }
        }
        Some((entry, node))
    }

    /// The span of the key that ends `path` (falls back to the value for sequence items).
    pub(crate) fn key(&self, path: &[Seg]) -> Option<Span> {
        let (entry, node) = self.find(path)?;
        match entry {
            Some(e) => self.span(e.key_pos),
            None => self.span(node.pos),
        }
    }

    /// The span of the value at `path`.
    pub(crate) fn value(&self, path: &[Seg]) -> Option<Span> {
        let (entry, node) = self.find(path)?;
        self.span(node.pos)
            .or_else(|| entry.and_then(|e| self.span(e.key_pos)))
    }

    /// The nearest span along `path`: the value, else the key, else the closest ancestor.
    pub(crate) fn nearest(&self, path: &[Seg]) -> Option<Span> {
        (0..=path.len())
            .rev()
            .find_map(|n| self.value(&path[..n]).or_else(|| self.key(&path[..n])))
    }

    /// What the node at `path` is, in words (`a mapping`, `a list`, `text`).
    pub(crate) fn kind_name(&self, path: &[Seg]) -> Option<&'static str> {
        let (_, node) = self.find(path)?;
        Some(match &node.kind {
            Kind::Map(_) => "a mapping",
            Kind::Seq(_) => "a list",
            Kind::Scalar(Some(_)) => "text",
            Kind::Scalar(None) => "nothing",
        })
    }

    /// The path of the innermost key or item that starts at or before `offset` (where a
    /// parser error points), for messages that name the key.
    pub(crate) fn path_at(&self, offset: usize) -> Vec<Seg> {
        let starts = |pos: Option<Pos>| pos.is_some_and(|p| p.offset as usize <= offset);
        let mut path = Vec::new();
        let Some(mut node) = self.root.as_ref() else {
            return path;
        };
        loop {
            match &node.kind {
                Kind::Map(entries) => {
                    let Some(e) = entries.iter().rev().find(|e| starts(e.key_pos)) else {
                        break;
                    };
                    path.push(Seg::Key(e.key.to_string()));
                    if !starts(e.value.pos) {
                        break;
                    }
                    node = &e.value;
                }
                Kind::Seq(items) => {
                    let Some((i, item)) =
                        items.iter().enumerate().rev().find(|(_, n)| starts(n.pos))
                    else {
                        break;
                    };
                    path.push(Seg::Index(i));
                    node = item;
                }
                Kind::Scalar(_) => break,
            }
        }
        path
    }

    /// Every key repeated within one mapping, in document order.
    pub(crate) fn duplicates(&self) -> Vec<Duplicate> {
        let mut out = Vec::new();
        if let Some(root) = &self.root {
            walk(root, &mut Vec::new(), &mut |path, entries| {
                let mut first: HashMap<&str, Option<Pos>> = HashMap::with_capacity(entries.len());
                for e in entries {
                    match first.get(&*e.key) {
                        Some(f) => out.push(Duplicate {
                            parent: path.iter().map(|s| s.to_seg()).collect(),
                            key: e.key.to_string(),
                            span: self.span(e.key_pos),
                            first: self.span(*f),
                        }),
                        None => {
                            first.insert(&e.key, e.key_pos);
                        }
                    }
                }
            });
        }
        out
    }

    /// Spans and texts of every scalar under a key that names a secret.
    pub(crate) fn secrets(&self) -> (Vec<std::ops::Range<usize>>, Vec<String>) {
        let mut ranges = Vec::new();
        let mut texts = Vec::new();
        if let Some(root) = &self.root {
            walk(root, &mut Vec::new(), &mut |_, entries| {
                for e in entries
                    .iter()
                    .filter(|e| crate::redact::looks_secret(&e.key))
                {
                    scalars(&e.value, &mut |pos, text| {
                        if let Some(s) = self.span(pos) {
                            ranges.push(s.offset..s.offset + s.len);
                        }
                        texts.push(text.to_owned());
                    });
                }
            });
        }
        (ranges, texts)
    }
}

/// A step of the path [`walk`] is at, borrowed from the tree (made owned only when a
/// problem names it).
#[derive(Debug, Clone, Copy)]
enum Step<'a> {
    Key(&'a str),
    Index(usize),
}

impl Step<'_> {
    fn to_seg(self) -> Seg {
        match self {
            Step::Key(k) => Seg::Key(k.to_owned()),
            Step::Index(i) => Seg::Index(i),
        }
    }
}

/// Call `f` with every mapping of the tree and its path.
fn walk<'a>(
    node: &'a Node,
    path: &mut Vec<Step<'a>>,
    f: &mut impl FnMut(&[Step<'a>], &'a [Entry]),
) {
    match &node.kind {
        Kind::Map(entries) => {
            f(path, entries);
            for e in entries {
                if matches!(e.value.kind, Kind::Scalar(_)) {
                    continue;
                }
                path.push(Step::Key(&e.key));
                walk(&e.value, path, f);
                path.pop();
            }
        }
        Kind::Seq(items) => {
            for (i, item) in items.iter().enumerate() {
                path.push(Step::Index(i));
                walk(item, path, f);
                path.pop();
            }
        }
        Kind::Scalar(_) => {}
    }
}

/// Give keys the parser typed their text as written (`on`, not `true`), so that paths
/// named by the typed pass (which reads keys as written) find them. Walks with an explicit
/// stack: the tree may be as deep as the budget allows.
fn retext_typed_keys(root: &mut Node, src: &str) {
    let mut stack = vec![root];
    while let Some(node) = stack.pop() {
        match &mut node.kind {
            Kind::Map(entries) => {
                for e in entries.iter_mut() {
                    if e.typed_key
                        && let Some(text) = e.key_pos.and_then(|p| {
                            let s = p.span(src.len());
                            src.get(s.offset..s.offset + s.len)
                        })
                        && !text.trim().is_empty()
                        && !text.contains(':')
                    {
                        e.key = text.trim().into();
                    }
                    stack.push(&mut e.value);
                }
            }
            Kind::Seq(items) => stack.extend(items.iter_mut()),
            Kind::Scalar(_) => {}
        }
    }
}

/// Every non-null scalar under `node`, with its position.
fn scalars(node: &Node, f: &mut impl FnMut(Option<Pos>, &str)) {
    match &node.kind {
        Kind::Scalar(Some(t)) => f(node.pos, t),
        Kind::Scalar(None) => {}
        Kind::Seq(items) => items.iter().for_each(|n| scalars(n, f)),
        Kind::Map(entries) => entries.iter().for_each(|e| scalars(&e.value, f)),
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
