//! The user guide (`docs/guide/`, an mdBook): every relative link and `#anchor` in its
//! chapters resolves (to a chapter, a heading of one, or a file of the repository), every
//! external link is well formed (nothing is fetched: CI has no internet), and the commands
//! the lab test `lab_guide` runs are extracted here, by the rules the guide's introduction
//! states. These tests need no lab.

use std::collections::HashSet;
use std::path::{Component, Path, PathBuf};

/// The repository's root.
pub(crate) fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `docs/guide/src`.
pub(crate) fn guide_src() -> PathBuf {
    repo_root().join("docs/guide/src")
}

/// One command of a `console` block: the text after `$ ` (with its continuation lines or
/// here-document), the line it starts on, and the exit code the guide says it ends with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GuideCommand {
    pub(crate) line: usize,
    pub(crate) text: String,
    pub(crate) exit: i32,
}

/// What a chapter asks to be run, and what it marks as not run (with the reason).
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Commands {
    pub(crate) run: Vec<GuideCommand>,
    pub(crate) not_run: Vec<(GuideCommand, String)>,
}

/// The marker, alone on the line before a fence, of a block whose commands are not run.
const NOT_RUN: &str = "<!-- guide: not run:";

/// Fence languages a command may not hide in: commands go in `console` blocks.
const SHELL_FENCES: [&str; 4] = ["sh", "bash", "shell", "zsh"];

/// The `console` commands of a chapter, in order. Errors (with line numbers): a command in
/// a shell block, a not-run marker without a reason, an unclosed fence or here-document,
/// a malformed `# exit N`.
pub(crate) fn commands(md: &str) -> Result<Commands, String> {
    let lines: Vec<&str> = md.lines().collect();
    let mut out = Commands::default();
    let mut i = 0;
    let mut previous = "";
    while i < lines.len() {
        let line = lines[i];
        let Some((ticks, info)) = fence_open(line) else {
            if !line.trim().is_empty() {
                previous = line.trim();
            }
            i += 1;
            continue;
        };
        let lang = info.split([' ', ',']).next().unwrap_or("");
        let start = i + 1;
        let reason = match previous.strip_prefix(NOT_RUN) {
            Some(rest) => {
                let reason = rest.trim_end().trim_end_matches("-->").trim();
                if reason.is_empty() {
                    return Err(format!("line {i}: a not-run marker needs a reason"));
                }
                Some(reason.to_owned())
            }
            None => None,
        };
        previous = "";
        let mut body = Vec::new();
        i += 1;
        loop {
            let Some(l) = lines.get(i) else {
                return Err(format!("line {start}: the fence is never closed"));
            };
            if fence_close(l, ticks) {
                break;
            }
            body.push((i + 1, *l));
            i += 1;
        }
        i += 1;
        if SHELL_FENCES.contains(&lang) && body.iter().any(|(_, l)| l.starts_with("$ ")) {
            return Err(format!(
                "line {start}: a `{lang}` block with commands: commands go in `console` blocks"
            ));
        }
        if lang != "console" {
            if reason.is_some() {
                return Err(format!(
                    "line {start}: a not-run marker before a `{lang}` block"
                ));
            }
            continue;
        }
        for command in console_commands(&body)? {
            match &reason {
                Some(r) => out.not_run.push((command, r.clone())),
                None => out.run.push(command),
            }
        }
    }
    Ok(out)
}

/// The commands of a console block's lines (`(line number, text)`).
fn console_commands(body: &[(usize, &str)]) -> Result<Vec<GuideCommand>, String> {
    let mut out = Vec::new();
    let mut k = 0;
    while k < body.len() {
        let (line, l) = body[k];
        k += 1;
        let Some(first) = l.strip_prefix("$ ") else {
            continue; // output
        };
        let mut text = first.to_owned();
        let mut last = first;
        while last.trim_end().ends_with('\\') {
            let Some((_, next)) = body.get(k) else {
                return Err(format!("line {line}: a `\\` continues past the block"));
            };
            text.push('\n');
            text.push_str(next);
            last = next;
            k += 1;
        }
        // The line that ends the command (before any here-document) may say its exit code.
        let exit = match last.rsplit_once("# exit ") {
            Some((_, code)) => code
                .trim()
                .parse::<i32>()
                .map_err(|_| format!("line {line}: `# exit N` needs a number, found {code:?}"))?,
            None => 0,
        };
        if let Some(word) = heredoc_word(&text) {
            loop {
                let Some((_, next)) = body.get(k) else {
                    return Err(format!(
                        "line {line}: the here-document never ends ({word})"
                    ));
                };
                text.push('\n');
                text.push_str(next);
                k += 1;
                if next.trim_end() == word {
                    break;
                }
            }
        }
        out.push(GuideCommand { line, text, exit });
    }
    Ok(out)
}

/// The delimiter of a here-document the command starts (`<<'EOF'`, `<<"EOF"`, `<<EOF`).
fn heredoc_word(command: &str) -> Option<String> {
    let (_, rest) = command.split_once("<<")?;
    let rest = rest.strip_prefix('-').unwrap_or(rest).trim_start();
    let word: String = rest
        .trim_start_matches(['\'', '"'])
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    (!word.is_empty()).then_some(word)
}

/// A line opening a fenced block: the number of backticks and the info string.
fn fence_open(line: &str) -> Option<(usize, &str)> {
    let t = line.trim_start();
    if line.len() - t.len() > 3 {
        return None;
    }
    let ticks = t.chars().take_while(|c| *c == '`').count();
    (ticks >= 3).then(|| (ticks, t[ticks..].trim()))
}

/// Whether `line` closes a block opened with `ticks` backticks.
fn fence_close(line: &str, ticks: usize) -> bool {
    let t = line.trim();
    t.len() >= ticks && t.chars().all(|c| c == '`')
}

/// The chapters in the order `SUMMARY.md` lists them (file names under `src/`).
pub(crate) fn chapters() -> Vec<String> {
    let summary = std::fs::read_to_string(guide_src().join("SUMMARY.md")).expect("SUMMARY.md");
    links(&summary)
        .into_iter()
        .map(|(_, target)| target)
        .filter(|t| t.ends_with(".md"))
        .collect()
}

/// Every link target of a Markdown text outside code (fenced blocks and code spans), with
/// its line: inline links and images `[text](target "title")`, and reference definitions
/// `[label]: target`.
pub(crate) fn links(md: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut fence: Option<usize> = None;
    for (n, line) in md.lines().enumerate() {
        let n = n + 1;
        if let Some(ticks) = fence {
            if fence_close(line, ticks) {
                fence = None;
            }
            continue;
        }
        if let Some((ticks, _)) = fence_open(line) {
            fence = Some(ticks);
            continue;
        }
        let text = without_code_spans(line);
        let trimmed = text.trim_start();
        if trimmed.starts_with('[')
            && let Some(end) = trimmed.find("]:")
            && !trimmed[..end].contains('(')
        {
            if let Some(target) = trimmed[end + 2..].split_whitespace().next() {
                out.push((n, unangle(target)));
            }
            continue;
        }
        let mut rest = text.as_str();
        while let Some(at) = rest.find("](") {
            let after = &rest[at + 2..];
            let mut depth = 0usize;
            let mut end = after.len();
            for (k, c) in after.char_indices() {
                match c {
                    '(' => depth += 1,
                    ')' if depth == 0 => {
                        end = k;
                        break;
                    }
                    ')' => depth -= 1,
                    _ => {}
                }
            }
            let inside = after[..end].trim();
            let target = if inside.starts_with('<') {
                inside.split('>').next().unwrap_or("").to_owned() + ">"
            } else {
                inside.split_whitespace().next().unwrap_or("").to_owned()
            };
            out.push((n, unangle(&target)));
            rest = &after[end.min(after.len())..];
        }
    }
    out
}

fn unangle(target: &str) -> String {
    target
        .strip_prefix('<')
        .and_then(|t| t.strip_suffix('>'))
        .unwrap_or(target)
        .to_owned()
}

/// `line` with its code spans (`` `…` ``) blanked out.
fn without_code_spans(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut in_code = false;
    for c in line.chars() {
        if c == '`' {
            in_code = !in_code;
            out.push(' ');
        } else if in_code {
            out.push(' ');
        } else {
            out.push(c);
        }
    }
    out
}

/// The ids mdBook (and GitHub) give the headings of a Markdown text: the heading's text
/// without markup, lower-cased, spaces as `-`, other punctuation dropped; a repeated id
/// gets `-1`, `-2`, ….
pub(crate) fn heading_ids(md: &str) -> HashSet<String> {
    let mut ids = HashSet::new();
    let mut fence: Option<usize> = None;
    for line in md.lines() {
        if let Some(ticks) = fence {
            if fence_close(line, ticks) {
                fence = None;
            }
            continue;
        }
        if let Some((ticks, _)) = fence_open(line) {
            fence = Some(ticks);
            continue;
        }
        let hashes = line.chars().take_while(|c| *c == '#').count();
        if !(1..=6).contains(&hashes) || !line[hashes..].starts_with(' ') {
            continue;
        }
        let text = line[hashes..].trim().trim_end_matches('#').trim();
        let base = slug(&link_texts(text));
        let mut id = base.clone();
        let mut k = 1;
        while ids.contains(&id) {
            id = format!("{base}-{k}");
            k += 1;
        }
        ids.insert(id);
    }
    ids
}

/// `text` with each link `[t](u)` replaced by `t`.
fn link_texts(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(open) = rest.find('[') {
        let Some(mid) = rest[open..].find("](") else {
            break;
        };
        let Some(close) = rest[open + mid..].find(')') else {
            break;
        };
        out.push_str(&rest[..open]);
        out.push_str(&rest[open + 1..open + mid]);
        rest = &rest[open + mid + close + 1..];
    }
    out.push_str(rest);
    out
}

fn slug(text: &str) -> String {
    text.chars()
        .filter_map(|c| {
            if c.is_alphanumeric() || c == '_' || c == '-' {
                Some(c.to_lowercase().next().unwrap_or(c))
            } else if c.is_whitespace() {
                Some('-')
            } else {
                None
            }
        })
        .collect()
}

/// Whether `url` is a well-formed external link: `http(s)://HOST[:PORT][/…]` or
/// `mailto:ADDRESS`, with no spaces or characters a URL may not hold raw.
fn well_formed_external(url: &str) -> bool {
    if url
        .chars()
        .any(|c| c.is_whitespace() || "<>\"{}|\\^`".contains(c))
    {
        return false;
    }
    if let Some(address) = url.strip_prefix("mailto:") {
        return address
            .split_once('@')
            .is_some_and(|(u, d)| !u.is_empty() && d.contains('.'));
    }
    let Some(rest) = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
    else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (authority, None),
    };
    let host_ok = !host.is_empty()
        && host.split('.').all(|label| {
            !label.is_empty()
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
    host_ok && port.is_none_or(|p| p.parse::<u16>().is_ok_and(|p| p > 0))
}

/// `path` made lexical: `.` dropped, `..` applied. `None` when it climbs above its root.
fn normalise(path: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    return None;
                }
            }
            other => out.push(other),
        }
    }
    Some(out)
}

/// Every broken link of the Markdown files directly in `src` (as `file:line: why`), each
/// relative link resolved against its file's directory within `root` (the repository).
pub(crate) fn broken_links(src: &Path, root: &Path) -> Vec<String> {
    let root = normalise(&std::path::absolute(root).expect("absolute root")).expect("root");
    let src = normalise(&std::path::absolute(src).expect("absolute src")).expect("src");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&src)
        .expect("read the guide's sources")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    files.sort();
    let mut broken = Vec::new();
    for file in &files {
        let name = file.file_name().unwrap_or_default().to_string_lossy();
        let md = std::fs::read_to_string(file).expect("read a chapter");
        for (line, target) in links(&md) {
            let at = format!("{name}:{line}: `{target}`");
            if target.is_empty() {
                broken.push(format!("{at}: an empty link"));
                continue;
            }
            if target.contains("://") || target.starts_with("mailto:") {
                if !well_formed_external(&target) {
                    broken.push(format!("{at}: not a well-formed http(s) or mailto link"));
                }
                continue;
            }
            let (path, anchor) = match target.split_once('#') {
                Some((p, a)) => (p, Some(a)),
                None => (target.as_str(), None),
            };
            let resolved = if path.is_empty() {
                Some(file.clone())
            } else if path.starts_with('/') {
                broken.push(format!("{at}: an absolute path (links are relative)"));
                continue;
            } else {
                normalise(&src.join(path))
            };
            let Some(resolved) = resolved.filter(|r| r.starts_with(&root)) else {
                broken.push(format!("{at}: leads out of the repository"));
                continue;
            };
            if !resolved.exists() {
                broken.push(format!("{at}: no such file ({})", resolved.display()));
                continue;
            }
            let Some(anchor) = anchor else { continue };
            if resolved.extension().is_none_or(|e| e != "md") {
                broken.push(format!("{at}: an anchor into a file that is not Markdown"));
                continue;
            }
            let text = std::fs::read_to_string(&resolved).expect("read a link's target");
            if !heading_ids(&text).contains(anchor) {
                broken.push(format!("{at}: no heading with the id `{anchor}`"));
            }
        }
    }
    broken
}

#[test]
fn every_link_of_the_guide_resolves() {
    let broken = broken_links(&guide_src(), &repo_root());
    assert!(
        broken.is_empty(),
        "broken links in docs/guide/src:\n{}",
        broken.join("\n")
    );
}

#[test]
fn the_link_check_finds_broken_links_anchors_and_malformed_urls() {
    let repo = tempfile::tempdir().expect("tmp");
    let src = repo.path().join("docs/guide/src");
    std::fs::create_dir_all(&src).expect("mkdir");
    std::fs::write(
        repo.path().join("README.md"),
        "# Top\n## `fearless check`, now\n",
    )
    .expect("w");
    std::fs::write(
        src.join("a.md"),
        "# A\n\
         [ok](b.md#the-second-part) [ok too](#a) [readme](../../../README.md#fearless-check-now)\n\
         [ok external](https://example.org/x?y=1#z) ![image](b.md)\n\
         [gone](c.md) and [bad anchor](b.md#nowhere)\n\
         [bad url](https://exa_mple.org) [no host](https:///x) [escape](../../../../etc/passwd)\n\
         `[in code](nothing.md)`\n\
         ```text\n[in a block](nothing.md)\n```\n\
         [ref]: b.md#the-second-part\n\
         [badref]: b.md#the-third-part\n",
    )
    .expect("write");
    std::fs::write(
        src.join("b.md"),
        "# B\n## The second part\n```console\n# not a heading\n```\n",
    )
    .expect("write");
    let broken = broken_links(&src, repo.path());
    let expected = [
        "a.md:4: `c.md`: no such file",
        "a.md:4: `b.md#nowhere`: no heading",
        "a.md:5: `https://exa_mple.org`: not a well-formed",
        "a.md:5: `https:///x`: not a well-formed",
        "a.md:5: `../../../../etc/passwd`: leads out of the repository",
        "a.md:11: `b.md#the-third-part`: no heading",
    ];
    assert_eq!(broken.len(), expected.len(), "{broken:#?}");
    for (got, want) in broken.iter().zip(expected) {
        assert!(
            got.starts_with(want),
            "{got:?} is not {want:?}…\n{broken:#?}"
        );
    }
}

#[test]
fn heading_ids_are_the_ones_mdbook_and_github_make() {
    let ids = heading_ids(
        "# Getting started\n## `fearless serve`, `fearless user`\n### Who acts\n### Who acts\n\
         ## [EC2 discovery](x.md) and *more*\n```\n# no\n```\n",
    );
    let mut ids: Vec<_> = ids.into_iter().collect();
    ids.sort();
    assert_eq!(
        ids,
        [
            "ec2-discovery-and-more",
            "fearless-serve-fearless-user",
            "getting-started",
            "who-acts",
            "who-acts-1"
        ]
    );
}

#[test]
fn commands_are_read_with_continuations_heredocs_exit_codes_and_not_run_markers() {
    let md = "text\n\
              ```console\n\
              $ fearless check\n\
              output line\n\
              $ fearless patch --change CHG-2 \\\n  --bake 5s   # exit 1\n\
              $ cat > f.yaml <<'EOF'\n\
              a: 1\n\
              $ not a command\n\
              EOF\n\
              ```\n\
              \n\
              <!-- guide: not run: it needs AWS -->\n\
              ```console\n\
              $ fearless hosts --refresh\n\
              ```\n\
              ```yaml\n\
              $ is fine in yaml\n\
              ```\n";
    let got = commands(md).expect("parses");
    let texts: Vec<(&str, i32, usize)> = got
        .run
        .iter()
        .map(|c| (c.text.as_str(), c.exit, c.line))
        .collect();
    assert_eq!(
        texts,
        [
            ("fearless check", 0, 3),
            (
                "fearless patch --change CHG-2 \\\n  --bake 5s   # exit 1",
                1,
                5
            ),
            ("cat > f.yaml <<'EOF'\na: 1\n$ not a command\nEOF", 0, 7),
        ]
    );
    let exit =
        commands("```console\n$ fearless patch --change CHG-2   # exit 1\n```\n").expect("parses");
    assert_eq!(exit.run[0].exit, 1);
    assert_eq!(got.not_run.len(), 1);
    assert_eq!(got.not_run[0].0.text, "fearless hosts --refresh");
    assert_eq!(got.not_run[0].1, "it needs AWS");

    let no_reason = "<!-- guide: not run: -->\n```console\n$ fearless serve\n```\n";
    assert!(commands(no_reason).is_err());
    let in_sh = "```sh\n$ fearless check\n```\n";
    assert!(commands(in_sh).err().is_some_and(|e| e.contains("console")));
    assert!(commands("```console\n$ cat <<EOF\nnever ends\n```\n").is_err());
    assert!(commands("```console\n$ fearless check\n").is_err());
    assert!(commands("```console\n$ fearless check   # exit one\n```\n").is_err());
}

#[test]
fn every_chapter_is_in_the_summary_and_its_commands_parse() {
    let listed = chapters();
    assert!(listed.len() >= 9, "{listed:?}");
    let mut on_disk: Vec<String> = std::fs::read_dir(guide_src())
        .expect("src")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".md") && n != "SUMMARY.md")
        .collect();
    on_disk.sort();
    let mut sorted = listed.clone();
    sorted.sort();
    assert_eq!(
        sorted, on_disk,
        "every chapter file is listed in SUMMARY.md"
    );
    let mut run = 0;
    for chapter in &listed {
        let md = std::fs::read_to_string(guide_src().join(chapter)).expect("chapter");
        let found = commands(&md).unwrap_or_else(|e| panic!("{chapter}: {e}"));
        for c in found.run.iter().chain(found.not_run.iter().map(|(c, _)| c)) {
            assert!(
                c.text.starts_with("fearless ")
                    || [
                        "export ", "cat ", "mkdir ", "tail ", "sed ", "grep ", "psql "
                    ]
                    .iter()
                    .any(|p| c.text.starts_with(p)),
                "{chapter}:{}: a command the guide's reader may not have: {}",
                c.line,
                c.text
            );
        }
        run += found.run.len();
    }
    assert!(run >= 60, "only {run} commands are run");
}
