//! The languages fearless scans, by file name (and by `#!` line for extensionless scripts).

use std::path::Path;

use ast_grep_language::SupportLang;
use serde::Serialize;

/// A language with a grammar compiled into fearless.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    /// Python (`.py`, `.pyi`).
    Python,
    /// JavaScript (`.js`, `.mjs`, `.cjs`, `.jsx`).
    JavaScript,
    /// TypeScript (`.ts`, `.mts`, `.cts`).
    TypeScript,
    /// TSX (`.tsx`).
    Tsx,
    /// Go (`.go`).
    Go,
    /// Java (`.java`).
    Java,
    /// Shell scripts, parsed with the bash grammar (`.sh`, `.bash`, or a `#!` naming a shell);
    /// the shell of a Dockerfile's `RUN` instructions is scanned as this language too.
    Bash,
    /// PHP (`.php`).
    Php,
    /// Ruby (`.rb`, `.rake`).
    Ruby,
    /// C# (`.cs`).
    CSharp,
}

impl Lang {
    /// Every language, in a fixed order.
    pub const ALL: [Lang; 10] = [
        Lang::Python,
        Lang::JavaScript,
        Lang::TypeScript,
        Lang::Tsx,
        Lang::Go,
        Lang::Java,
        Lang::Bash,
        Lang::Php,
        Lang::Ruby,
        Lang::CSharp,
    ];

    /// The ast-grep language.
    pub fn support(self) -> SupportLang {
        match self {
            Lang::Python => SupportLang::Python,
            Lang::JavaScript => SupportLang::JavaScript,
            Lang::TypeScript => SupportLang::TypeScript,
            Lang::Tsx => SupportLang::Tsx,
            Lang::Go => SupportLang::Go,
            Lang::Java => SupportLang::Java,
            Lang::Bash => SupportLang::Bash,
            Lang::Php => SupportLang::Php,
            Lang::Ruby => SupportLang::Ruby,
            Lang::CSharp => SupportLang::CSharp,
        }
    }

    /// The fearless language of an ast-grep language, if its grammar is compiled in.
    pub fn from_support(lang: SupportLang) -> Option<Lang> {
        Lang::ALL.into_iter().find(|l| l.support() == lang)
    }

    /// The language of a file by its extension.
    pub fn from_path(path: &Path) -> Option<Lang> {
        let ext = path.extension()?.to_str()?;
        Some(match ext {
            "py" | "pyi" => Lang::Python,
            "js" | "mjs" | "cjs" | "jsx" => Lang::JavaScript,
            "ts" | "mts" | "cts" => Lang::TypeScript,
            "tsx" => Lang::Tsx,
            "go" => Lang::Go,
            "java" => Lang::Java,
            "sh" | "bash" => Lang::Bash,
            "php" => Lang::Php,
            "rb" | "rake" => Lang::Ruby,
            "cs" => Lang::CSharp,
            _ => return None,
        })
    }

    /// The language a `#!` line names (`sh`, `bash`, `python3`, `ruby`, `php`, `node`), if any.
    pub fn from_shebang(head: &[u8]) -> Option<Lang> {
        let line = head.strip_prefix(b"#!")?;
        let end = line.iter().position(|&b| b == b'\n').unwrap_or(line.len());
        let line = std::str::from_utf8(&line[..end]).ok()?;
        let mut words = line.split_whitespace();
        let mut program = words.next()?.rsplit('/').next()?;
        if program == "env" {
            program = words.find(|w| !w.starts_with('-'))?;
        }
        let name = program.trim_end_matches(|c: char| c.is_ascii_digit() || c == '.');
        Some(match name {
            "sh" | "bash" | "dash" | "ksh" | "zsh" | "ash" => Lang::Bash,
            "python" => Lang::Python,
            "ruby" => Lang::Ruby,
            "php" => Lang::Php,
            "node" | "nodejs" => Lang::JavaScript,
            _ => return None,
        })
    }
}

impl std::fmt::Display for Lang {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = match self {
            Lang::Python => "python",
            Lang::JavaScript => "javascript",
            Lang::TypeScript => "typescript",
            Lang::Tsx => "tsx",
            Lang::Go => "go",
            Lang::Java => "java",
            Lang::Bash => "bash",
            Lang::Php => "php",
            Lang::Ruby => "ruby",
            Lang::CSharp => "csharp",
        };
        f.write_str(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shebangs() {
        assert_eq!(Lang::from_shebang(b"#!/bin/sh\necho"), Some(Lang::Bash));
        assert_eq!(
            Lang::from_shebang(b"#!/usr/bin/env -S python3.11 -u\n"),
            Some(Lang::Python)
        );
        assert_eq!(Lang::from_shebang(b"#!/usr/bin/perl"), None);
        assert_eq!(Lang::from_shebang(b"no shebang"), None);
    }

    #[test]
    fn extensions() {
        assert_eq!(Lang::from_path(Path::new("a/b.tsx")), Some(Lang::Tsx));
        assert_eq!(Lang::from_path(Path::new("Makefile")), None);
    }
}
