//! Reading `--feed` paths: a file, a directory of files (walked, sorted, symlinks not
//! followed), a zip as OSV publishes per ecosystem, or any of them gzipped (`.gz`, as
//! Amazon ships `updateinfo.xml.gz`). Every file goes through the bounded reader; zip
//! members and gzip streams are bounded too. The format of each document is told by its
//! content: XML is an updateinfo, a JSON array or an object whose first key is an OSV
//! field is OSV, any other JSON object is Debian's tracker. The first error ends the read:
//! a feed is used whole or not at all.

use std::io::Read;
use std::path::{Path, PathBuf};

use fearless_io::Limit;

use crate::error::FeedError;
use crate::model::{Feed, FeedSource, Format};
use crate::{alas, osv, tracker};

/// Largest feed file read (Debian's tracker JSON is about 80 MB, OSV's Debian zip less).
const FILE_LIMIT: u64 = 2 * 1024 * 1024 * 1024;
/// Largest document inside a zip or a gzip stream.
const MEMBER_LIMIT: u64 = 1024 * 1024 * 1024;

/// The top-level fields of an OSV record: a JSON object starting with one is OSV.
const OSV_FIELDS: &[&str] = &[
    "schema_version",
    "id",
    "modified",
    "published",
    "withdrawn",
    "aliases",
    "related",
    "upstream",
    "summary",
    "details",
    "severity",
    "affected",
    "references",
    "credits",
    "database_specific",
];

/// Read every path into one [`Feed`].
pub fn load(paths: &[PathBuf]) -> Result<Feed, FeedError> {
    let mut feed = Feed::default();
    for path in paths {
        let shown = path.display().to_string();
        let mut src = FeedSource::new(&shown);
        let index = feed.sources.len();
        let mut reader = Reader {
            src: &mut src,
            out: &mut feed.advisories,
            source: index,
        };
        let meta = std::fs::metadata(path)
            .map_err(|e| FeedError::new(&shown, format!("cannot read it: {e}")))?;
        if meta.is_dir() {
            let mut files = Vec::new();
            walk(path, &mut files)?;
            if files.is_empty() {
                return Err(FeedError::new(
                    &shown,
                    "a directory without a .json, .xml, .zip or .gz file",
                ));
            }
            for f in files {
                reader.file(&f)?;
            }
        } else {
            reader.file(path)?;
        }
        feed.sources.push(src);
    }
    Ok(feed)
}

/// The feed files under `dir`, sorted; symlinks are not followed.
fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), FeedError> {
    let shown = dir.display().to_string();
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| FeedError::new(&shown, format!("cannot list it: {e}")))?
        .collect::<Result<_, _>>()
        .map_err(|e| FeedError::new(&shown, format!("cannot list it: {e}")))?;
    entries.sort_by_key(std::fs::DirEntry::file_name);
    for e in entries {
        let p = e.path();
        let ft = e
            .file_type()
            .map_err(|err| FeedError::new(p.display().to_string(), err.to_string()))?;
        if ft.is_dir() {
            walk(&p, out)?;
        } else if ft.is_file() && feed_file(&p.display().to_string()) {
            out.push(p);
        }
    }
    Ok(())
}

fn feed_file(name: &str) -> bool {
    [".json", ".xml", ".zip", ".gz"]
        .iter()
        .any(|ext| name.ends_with(ext))
}

struct Reader<'a> {
    src: &'a mut FeedSource,
    out: &'a mut Vec<crate::Advisory>,
    source: usize,
}

impl Reader<'_> {
    fn file(&mut self, path: &Path) -> Result<(), FeedError> {
        let at = path.display().to_string();
        let bytes = fearless_io::read_bytes(path, Limit::bytes(FILE_LIMIT))
            .map_err(|e| FeedError::new(&at, e.to_string()))?;
        self.bytes(&at, &at, bytes)
    }

    /// A document or archive named `name` (for its extension), shown as `at`.
    fn bytes(&mut self, name: &str, at: &str, bytes: Vec<u8>) -> Result<(), FeedError> {
        if let Some(inner) = name.strip_suffix(".gz") {
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(bytes.as_slice())
                .take(MEMBER_LIMIT + 1)
                .read_to_end(&mut out)
                .map_err(|e| FeedError::new(at, format!("not a readable gzip stream: {e}")))?;
            if out.len() as u64 > MEMBER_LIMIT {
                return Err(FeedError::new(
                    at,
                    format!("decompresses to more than {MEMBER_LIMIT} bytes"),
                ));
            }
            return self.bytes(inner, at, out);
        }
        if name.ends_with(".zip") {
            return self.zip(at, &bytes);
        }
        self.src.files += 1;
        let text = String::from_utf8(bytes).map_err(|e| {
            FeedError::new(
                at,
                format!(
                    "not UTF-8 text (byte {} is invalid)",
                    e.utf8_error().valid_up_to()
                ),
            )
        })?;
        self.document(at, &text)
    }

    /// A zip's members, read on up to four threads (a dump has tens of thousands),
    /// each a contiguous run of members whose results are put back in member order; the
    /// first error in member order is the one said.
    fn zip(&mut self, at: &str, bytes: &[u8]) -> Result<(), FeedError> {
        let archive = zip::ZipArchive::new(std::io::Cursor::new(bytes))
            .map_err(|e| FeedError::new(at, format!("not a readable zip archive: {e}")))?;
        let n = archive.len();
        let threads = std::thread::available_parallelism()
            .map_or(1, std::num::NonZero::get)
            .clamp(1, 4)
            .min(n / 512 + 1);
        let per = n.div_ceil(threads);
        let source = self.source;
        let parts: Vec<(FeedSource, Vec<crate::Advisory>, Result<(), FeedError>)> =
            std::thread::scope(|s| {
                let handles: Vec<_> = (0..threads)
                    .map(|t| {
                        let mut archive = archive.clone();
                        s.spawn(move || {
                            let mut src = FeedSource::new("");
                            let mut out = Vec::new();
                            let mut r = Reader {
                                src: &mut src,
                                out: &mut out,
                                source,
                            };
                            let result = r.members(&mut archive, at, t * per..n.min((t + 1) * per));
                            (src, out, result)
                        })
                    })
                    .collect();
                handles
                    .into_iter()
                    .map(|h| {
                        h.join().unwrap_or_else(|_| {
                            (
                                FeedSource::new(""),
                                Vec::new(),
                                Err(FeedError::new(at, "a reader thread panicked")),
                            )
                        })
                    })
                    .collect()
            });
        for (src, mut out, result) in parts {
            result?;
            self.src.merge(src);
            self.out.append(&mut out);
        }
        Ok(())
    }

    fn members(
        &mut self,
        archive: &mut zip::ZipArchive<std::io::Cursor<&[u8]>>,
        at: &str,
        range: std::ops::Range<usize>,
    ) -> Result<(), FeedError> {
        for i in range {
            let mut member = archive
                .by_index(i)
                .map_err(|e| FeedError::new(at, format!("zip member #{i}: {e}")))?;
            if member.is_dir() {
                continue;
            }
            let name = member
                .name()
                .map_err(|e| FeedError::new(at, format!("zip member #{i}: {e}")))?
                .into_owned();
            let member_at = format!("{at}: member {name}");
            if !feed_file(&name) || name.ends_with(".zip") {
                self.src
                    .unmatched("zip member that is not .json, .xml or .gz");
                continue;
            }
            if member.size() > MEMBER_LIMIT {
                return Err(FeedError::new(
                    member_at,
                    format!("{} bytes, more than {MEMBER_LIMIT}", member.size()),
                ));
            }
            let mut data = Vec::with_capacity(usize::try_from(member.size()).unwrap_or(0));
            (&mut member)
                .take(MEMBER_LIMIT + 1)
                .read_to_end(&mut data)
                .map_err(|e| FeedError::new(&member_at, format!("cannot be read: {e}")))?;
            drop(member);
            self.bytes(&name, &member_at, data)?;
        }
        Ok(())
    }

    fn document(&mut self, at: &str, text: &str) -> Result<(), FeedError> {
        let body = text.trim_start_matches('\u{feff}').trim_start();
        let (format, result) = match body.as_bytes().first() {
            Some(b'<') => (
                Format::Updateinfo,
                alas::parse(text, at, self.source, self.src, self.out),
            ),
            Some(b'[') => (
                Format::Osv,
                osv::parse(text, at, self.source, self.src, self.out),
            ),
            Some(b'{') if first_key(body).is_some_and(|k| OSV_FIELDS.contains(&k)) => (
                Format::Osv,
                osv::parse(text, at, self.source, self.src, self.out),
            ),
            Some(b'{') => (
                Format::DebianTracker,
                tracker::parse(text, at, self.source, self.src, self.out),
            ),
            _ => {
                return Err(FeedError::new(
                    format!("{at}:1:1"),
                    "neither JSON (OSV, Debian's tracker) nor XML (updateinfo)",
                ));
            }
        };
        result?;
        self.src.format(format);
        Ok(())
    }
}

/// The first key of the JSON object `body` (which starts with `{`), when it is a plain
/// string; `None` for an empty object or anything unusual (then the parser says what).
fn first_key(body: &str) -> Option<&str> {
    let rest = body.strip_prefix('{')?.trim_start();
    let rest = rest.strip_prefix('"')?;
    let end = rest.find(['"', '\\'])?;
    (rest.as_bytes().get(end) == Some(&b'"')).then(|| &rest[..end])
}

#[cfg(test)]
mod tests {
    use super::first_key;

    #[test]
    fn the_first_key_tells_osv_from_the_tracker() {
        assert_eq!(first_key("{ \"id\": 1}"), Some("id"));
        assert_eq!(first_key("{\n  \"openssl\": {}}"), Some("openssl"));
        assert_eq!(first_key("{}"), None);
        assert_eq!(first_key("{\"a\\\"b\": 1}"), None);
    }
}
