//! Dockerfile `RUN` instructions scanned as shell. There is no Dockerfile grammar in the
//! ast-grep crates, so a Dockerfile is turned into a *shell view*: a text of the same length
//! in which every byte that is not shell run by a `RUN` is a space (newlines kept). The view
//! is parsed with the bash grammar and matched with the shell rules; since no byte moves,
//! every line and column is the Dockerfile's own, and the code frame is its real line.
//!
//! What stays shell in the view:
//! - the shell form (`RUN apt-get update && \`): the text after `RUN` and its flags
//!   (`--mount=…`), with its continuation lines — bash reads `\` + newline as Docker does.
//!   A comment line inside a continuation, which Docker drops, becomes spaces ending in `\`;
//!   a trailing `\` followed by blanks is moved to the end of its line; a Dockerfile whose
//!   `# escape=` directive is a backtick gets `\` in place of its continuation backticks;
//! - the exec form (`RUN ["apt-get", "install", "-y", "nginx"]`), read as JSON: each
//!   element stays where it is, as a bare word when it needs no quoting (so `apt-get` is the
//!   command's name), else single- or double-quoted; brackets and commas become spaces;
//! - a heredoc (`RUN <<EOF` … `EOF`): the body is the script; with a command on the `RUN`
//!   line (`RUN python3 <<EOF`) the body is that command's input and stays a heredoc.
//!
//! `ONBUILD RUN …` is a `RUN` too; every other instruction is blanked.

/// Whether a file name is a Dockerfile's: `Dockerfile`, `Dockerfile.*`, `Containerfile`,
/// `Containerfile.*`, `*.dockerfile`.
pub(crate) fn is_dockerfile(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    ["dockerfile", "containerfile"]
        .iter()
        .any(|base| lower == *base || lower.starts_with(&format!("{base}.")))
        || (lower.ends_with(".dockerfile") && lower.len() > ".dockerfile".len())
}

/// One physical line: its byte range without the line ending.
#[derive(Clone, Copy)]
struct Line {
    start: usize,
    end: usize,
}

/// The shell view of a Dockerfile: same length, `RUN` shell text where it is, spaces
/// elsewhere, newlines kept.
pub(crate) fn shell_view(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut view: Vec<u8> = bytes
        .iter()
        .map(|&b| if b == b'\n' { b'\n' } else { b' ' })
        .collect();
    let lines = lines(text);
    let escape = escape_char(text, &lines);
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let s = &text[line.start..line.end];
        let trimmed = s.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            i += 1;
            continue;
        }
        // The logical instruction: this line and its continuation lines (comment and blank
        // lines inside a continuation do not end it).
        let mut last = i;
        let mut open = continues(text, line, escape);
        while open && last + 1 < lines.len() {
            last += 1;
            if !is_filler(text, lines[last]) {
                open = continues(text, lines[last], escape);
            }
        }
        let content = run_content(text, line);
        if let Some(start) = content {
            let logical = &lines[i..=last];
            let after = heredocs(text, start, logical, &lines[last + 1..]);
            if let Some(doc) = after.script {
                // `RUN <<EOF` alone: the body is the script.
                copy(&mut view, bytes, doc.body_start, doc.body_end);
            } else if !exec_form(text, &mut view, start, logical, escape) {
                shell_form(text, &mut view, start, logical, escape);
                if let Some(end) = after.stdin_end {
                    copy(&mut view, bytes, lines[last].end, end);
                }
            }
            last += after.body_lines;
        } else {
            last += heredocs(text, line.start, &lines[i..=last], &lines[last + 1..]).body_lines;
        }
        i = last + 1;
    }
    // Only ASCII bytes were written over ASCII or whole-char runs of the text.
    String::from_utf8(view).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

fn lines(text: &str) -> Vec<Line> {
    let mut out = Vec::new();
    let mut start = 0;
    for (i, b) in text.bytes().enumerate() {
        if b == b'\n' {
            let end = if i > start && text.as_bytes()[i - 1] == b'\r' {
                i - 1
            } else {
                i
            };
            out.push(Line { start, end });
            start = i + 1;
        }
    }
    if start < text.len() {
        out.push(Line {
            start,
            end: text.len(),
        });
    }
    out
}

/// The escape character: `\`, or what a leading `# escape=` parser directive names.
fn escape_char(text: &str, lines: &[Line]) -> u8 {
    for line in lines {
        let s = text[line.start..line.end].trim();
        let Some(directive) = s.strip_prefix('#') else {
            break;
        };
        let Some((key, value)) = directive.split_once('=') else {
            break;
        };
        if key.trim().eq_ignore_ascii_case("escape") {
            return match value.trim() {
                "`" => b'`',
                _ => b'\\',
            };
        }
    }
    b'\\'
}

/// Whether a line is a comment or blank: inside a continuation, Docker skips it.
fn is_filler(text: &str, line: Line) -> bool {
    let s = text[line.start..line.end].trim_start();
    s.is_empty() || s.starts_with('#')
}

/// Whether a line ends in the escape character (blanks after it allowed, as Docker allows).
fn continues(text: &str, line: Line, escape: u8) -> bool {
    text[line.start..line.end]
        .trim_end()
        .as_bytes()
        .last()
        .is_some_and(|&b| b == escape)
}

/// Where the shell text of a `RUN` (or `ONBUILD RUN`) instruction starts, after its flags.
fn run_content(text: &str, line: Line) -> Option<usize> {
    let s = &text[line.start..line.end];
    let mut rest = s.trim_start();
    let mut word = first_word(rest);
    if word.eq_ignore_ascii_case("onbuild") {
        rest = rest[word.len()..].trim_start();
        word = first_word(rest);
    }
    if !word.eq_ignore_ascii_case("run") {
        return None;
    }
    rest = rest[word.len()..].trim_start();
    while rest.starts_with("--") {
        let flag = first_word(rest);
        rest = rest[flag.len()..].trim_start();
    }
    Some(line.end - rest.len())
}

fn first_word(s: &str) -> &str {
    let end = s.find(char::is_whitespace).unwrap_or(s.len());
    &s[..end]
}

fn copy(view: &mut [u8], bytes: &[u8], start: usize, end: usize) {
    for i in start..end.min(bytes.len()) {
        if bytes[i] != b'\r' {
            view[i] = bytes[i];
        }
    }
}

/// The shell form: the text as it is, continuation lines made bash's.
fn shell_form(text: &str, view: &mut [u8], start: usize, logical: &[Line], escape: u8) {
    let bytes = text.as_bytes();
    let count = logical.len();
    for (n, line) in logical.iter().enumerate() {
        let from = if n == 0 { start } else { line.start };
        let s = &text[from..line.end];
        let is_last = n + 1 == count;
        if n > 0 && is_filler(text, *line) {
            // Docker drops a comment or blank line inside a continuation; bash must still
            // continue (an empty line has no room for the `\`: bash ends the command there).
            if line.end > line.start {
                view[line.end - 1] = b'\\';
            }
            continue;
        }
        copy(view, bytes, from, line.end);
        if (!is_last || continues(text, *line, escape)) && !s.trim_end().is_empty() {
            let body = s.trim_end();
            let esc_at = from + body.len() - 1;
            if body.len() < s.len() || escape != b'\\' {
                view[esc_at] = b' ';
                view[line.end - 1] = b'\\';
            }
        }
    }
}

/// The exec form, if the text is a JSON array of strings: each element a shell word in
/// place. Returns whether it was one.
fn exec_form(text: &str, view: &mut [u8], start: usize, logical: &[Line], escape: u8) -> bool {
    let Some(last) = logical.last() else {
        return false;
    };
    let bytes = text.as_bytes();
    let end = last.end;
    let blank = |i: usize| {
        matches!(bytes[i], b' ' | b'\t' | b'\r' | b'\n')
            || (bytes[i] == escape && continuation_at(bytes, i, end))
    };
    let mut i = start;
    if bytes.get(i) != Some(&b'[') {
        return false;
    }
    i += 1;
    let mut tokens = Vec::new();
    loop {
        while i < end && blank(i) {
            i += 1;
        }
        if tokens.is_empty() && bytes.get(i) == Some(&b']') {
            break;
        }
        if bytes.get(i) != Some(&b'"') {
            return false;
        }
        let open = i;
        i += 1;
        let mut escaped = false;
        while i < end && bytes[i] != b'"' {
            if bytes[i] == b'\\' {
                escaped = true;
                i += 1;
            }
            i += 1;
        }
        if i >= end {
            return false;
        }
        tokens.push((open, i, escaped));
        i += 1;
        while i < end && blank(i) {
            i += 1;
        }
        match bytes.get(i) {
            Some(b',') => i += 1,
            Some(b']') => break,
            _ => return false,
        }
    }
    if !text[i + 1..end].trim().is_empty() {
        return false;
    }
    for (open, close, escaped) in tokens {
        let inner = &text[open + 1..close];
        copy(view, bytes, open, close + 1);
        let bare = !inner.is_empty()
            && inner
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_./:=+@%,-".contains(&b));
        if bare {
            view[open] = b' ';
            view[close] = b' ';
        } else if !escaped && !inner.contains('\'') {
            view[open] = b'\'';
            view[close] = b'\'';
        }
    }
    for line in &logical[..logical.len() - 1] {
        if line.end > line.start {
            view[line.end - 1] = b'\\';
        }
    }
    true
}

/// Whether the escape character at `i` ends its line (only blanks after it).
fn continuation_at(bytes: &[u8], i: usize, end: usize) -> bool {
    let mut j = i + 1;
    while j < end && matches!(bytes[j], b' ' | b'\t' | b'\r') {
        j += 1;
    }
    j >= end || bytes[j] == b'\n'
}

/// The heredocs an instruction opens.
#[derive(Default)]
struct Heredocs {
    /// How many lines after the instruction their bodies and terminators take.
    body_lines: usize,
    /// `RUN <<EOF` alone: the one body, which is the script.
    script: Option<Body>,
    /// Otherwise, where the last terminator ends (bodies are a command's input).
    stdin_end: Option<usize>,
}

struct Body {
    body_start: usize,
    body_end: usize,
}

fn heredocs(text: &str, content: usize, logical: &[Line], after: &[Line]) -> Heredocs {
    let Some(last) = logical.last() else {
        return Heredocs::default();
    };
    let instruction = &text[content..last.end];
    let mut markers = Vec::new();
    let mut rest = instruction;
    while let Some(i) = rest.find("<<") {
        let mut tail = &rest[i + 2..];
        if tail.starts_with('<') {
            rest = tail.trim_start_matches('<');
            continue;
        }
        let strip_tabs = tail.starts_with('-');
        tail = tail.trim_start_matches('-');
        let quoted = tail.starts_with(['"', '\'']);
        let word: String = tail
            .trim_start_matches(['"', '\''])
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        let consumed = i + 2 + usize::from(strip_tabs) + usize::from(quoted) + word.len();
        if !word.is_empty() {
            markers.push((word, strip_tabs));
        }
        rest = &rest[consumed.min(rest.len())..];
    }
    if markers.is_empty() {
        return Heredocs::default();
    }
    let alone = markers.len() == 1
        && logical.len() == 1
        && instruction
            .trim()
            .trim_start_matches("<<")
            .trim_start_matches('-')
            .trim_matches(['"', '\''])
            == markers[0].0;
    let mut out = Heredocs::default();
    let mut n = 0;
    for (word, strip_tabs) in &markers {
        let body_start = after.get(n).map_or(text.len(), |l| l.start);
        while let Some(line) = after.get(n) {
            n += 1;
            let s = &text[line.start..line.end];
            let s = if *strip_tabs {
                s.trim_start_matches('\t')
            } else {
                s
            };
            if s == word {
                if alone {
                    out.script = Some(Body {
                        body_start,
                        body_end: line.start,
                    });
                }
                out.stdin_end = Some(line.end);
                break;
            }
        }
    }
    out.body_lines = n;
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The view, with the blank lines' trailing spaces trimmed for reading.
    fn view(text: &str) -> String {
        let v = shell_view(text);
        assert_eq!(v.len(), text.len());
        v.lines().map(str::trim_end).collect::<Vec<_>>().join("\n")
    }

    #[test]
    fn names() {
        for name in [
            "Dockerfile",
            "Dockerfile.prod",
            "Containerfile",
            "api.dockerfile",
            "dockerfile",
        ] {
            assert!(is_dockerfile(name), "{name}");
        }
        for name in [
            "Dockerfile-notes.md",
            "README",
            ".dockerfile",
            "dockerfiles",
        ] {
            assert!(!is_dockerfile(name), "{name}");
        }
    }

    #[test]
    fn shell_form_with_continuations_and_flags() {
        let text = "FROM debian\n# a comment\nRUN --mount=type=cache,target=/var/cache/apt apt-get update && \\\n# dropped by docker\n    apt-get install -y nginx\nENV A=1\nrun yum -y update\n";
        assert_eq!(
            view(text),
            "\n\n                                             apt-get update && \\\n                  \\\n    apt-get install -y nginx\n\n    yum -y update"
        );
    }

    #[test]
    fn trailing_blanks_after_the_escape_and_backtick_escape() {
        assert_eq!(view("RUN a \\  \n  b\n"), "    a   \\\n  b");
        assert_eq!(view("# escape=`\nRUN a `\n  b\n"), "\n    a \\\n  b");
    }

    #[test]
    fn exec_form() {
        assert_eq!(
            view("RUN [\"apt-get\", \"install\", \"-y\", \"a b\"]\n"),
            "      apt-get    install    -y   'a b'"
        );
        assert_eq!(
            view("RUN [\"sh\", \\\n  \"-c\", \"cat /etc/passwd\"]\n"),
            "      sh   \\\n   -c   'cat /etc/passwd'"
        );
        // Not JSON: the shell form, as Docker reads it.
        assert_eq!(view("RUN [ -f a ] && b\n"), "    [ -f a ] && b");
    }

    #[test]
    fn heredocs() {
        assert_eq!(
            view("RUN <<EOF\nyum -y update\nEOF\nRUN python3 <<-PY\n\tprint(1)\n\tPY\nCMD x\n"),
            "\nyum -y update\n\n    python3 <<-PY\n\tprint(1)\n\tPY\n"
        );
    }

    #[test]
    fn careless_input_keeps_every_line_where_it_is() {
        for text in [
            "RUN",
            "RUN \\",
            "RUN [\"a\", \\\n\n  \"b\"]\n",
            "RUN [\"unterminated\n",
            "RUN [\"a\\\"b\", \"c'd\"]",
            "RUN <<EOF\nno terminator\n",
            "RUN <<\n<<-\nRUN <<'Q' <<\"R\"\nQ\nR\n",
            "RUN a \\\r\n  b\r\nRUN café && \\\n# commentaire é\n  ü\n",
            "\u{feff}RUN x\n\\\n\\",
            "# escape=`\nRUN [\"a\", `\n \"b\"]",
        ] {
            let v = shell_view(text);
            assert_eq!(v.len(), text.len(), "{text:?}");
            assert_eq!(
                v.matches('\n').count(),
                text.matches('\n').count(),
                "{text:?}"
            );
        }
    }

    #[test]
    fn other_instructions_and_their_continuations_are_blank() {
        assert_eq!(
            view("LABEL a=\"yum\" \\\n  b=1\nENTRYPOINT [\"yum\"]\n"),
            "\n\n"
        );
    }
}
