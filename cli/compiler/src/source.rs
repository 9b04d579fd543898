//! Source files as loaded from disk, and the byte spans that diagnostics point at.

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

/// A half-open byte range into a [`SourceFile`]'s text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Self {
        Span { start, end }
    }

    pub fn len(&self) -> usize {
        self.end - self.start
    }

    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }
}

/// A one-based line and column (columns count characters, as editors do).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct LineCol {
    pub line: usize,
    pub column: usize,
}

/// A file's path as the user named it, and its full text.
#[derive(Debug)]
pub struct SourceFile {
    path: PathBuf,
    text: Arc<str>,
    /// Byte offsets of line starts, computed the first time a position is asked for.
    line_starts: OnceLock<Vec<usize>>,
}

impl SourceFile {
    pub fn new(path: PathBuf, text: impl Into<Arc<str>>) -> Self {
        SourceFile {
            path,
            text: text.into(),
            line_starts: OnceLock::new(),
        }
    }

    fn line_starts(&self) -> &[usize] {
        self.line_starts.get_or_init(|| {
            std::iter::once(0)
                .chain(newlines(&self.text).map(|i| i + 1))
                .collect()
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn text(&self) -> &Arc<str> {
        &self.text
    }

    /// The one-based line and column of a byte offset.
    pub fn line_col(&self, offset: usize) -> LineCol {
        let offset = offset.min(self.text.len());
        let line_starts = self.line_starts();
        let line = line_starts.partition_point(|&s| s <= offset) - 1;
        let start = line_starts[line];
        let column = self.text[start..floor_char_boundary(&self.text, offset)]
            .chars()
            .count();
        LineCol {
            line: line + 1,
            column: column + 1,
        }
    }

    /// The byte range of the line holding `offset`, without its line break.
    pub fn line_at(&self, offset: usize) -> Span {
        let starts = self.line_starts();
        let offset = offset.min(self.text.len());
        let line = starts.partition_point(|&s| s <= offset) - 1;
        let end = starts
            .get(line + 1)
            .map_or(self.text.len(), |&next| next - 1);
        Span::new(starts[line], end.max(starts[line]))
    }

    /// The byte offset of a one-based line and a zero-based character column, as the YAML
    /// parser reports positions.
    pub fn offset_of(&self, line: usize, char_col: usize) -> usize {
        let Some(&start) = self.line_starts().get(line.saturating_sub(1)) else {
            return self.text.len();
        };
        let rest = &self.text[start..];
        rest.char_indices()
            .nth(char_col)
            .map_or(self.text.len(), |(i, _)| start + i)
    }
}

/// A path as every output for people shows it: as the user wrote it (with `/` separators
/// and no leading `./`) when it is plain text, otherwise quoted as git quotes such names,
/// with its control and invisible characters escaped. File names come from pull requests:
/// a newline in one would start a GitHub workflow command, an escape sequence would rewrite
/// the terminal, a bidi override would reorder what a reviewer reads.
pub fn shown(path: &Path) -> String {
    let lossy = path.to_string_lossy();
    let text = lossy.strip_prefix("./").unwrap_or(&lossy);
    if !text.chars().any(hidden) {
        return text.replace('\\', "/");
    }
    let mut out = String::with_capacity(text.len() + 8);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c => escape_into(&mut out, c),
        }
    }
    out.push('"');
    out
}

/// Text for a terminal or an annotation (a message quoting a key or value from a file):
/// control and invisible characters escaped as `\n`, `\u{1b}`, the rest unchanged. A line
/// break too: in a CI log, a line of a message that starts with `::` is a workflow command.
pub fn visible(text: &str) -> Cow<'_, str> {
    if !text.chars().any(hidden) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        escape_into(&mut out, c);
    }
    Cow::Owned(out)
}

/// Whether a character must not reach a reader as itself.
pub fn hidden(c: char) -> bool {
    c.is_control() || registry_api::text::is_deceptive(c)
}

fn escape_into(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\t' => out.push_str("\\t"),
        '\r' => out.push_str("\\r"),
        c if hidden(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
        c => out.push(c),
    }
}

fn newlines(text: &str) -> impl Iterator<Item = usize> + '_ {
    text.bytes()
        .enumerate()
        .filter_map(|(i, b)| (b == b'\n').then_some(i))
}

fn floor_char_boundary(text: &str, mut offset: usize) -> usize {
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_with_control_or_invisible_characters_are_quoted_and_escaped() {
        let shown = |p: &str| shown(Path::new(p));
        assert_eq!(shown("./products/a b.yaml"), "products/a b.yaml");
        assert_eq!(shown(r"dir\x.yaml"), "dir/x.yaml");
        assert_eq!(
            shown("p/x\n::warning file=a::pwned.yaml"),
            r#""p/x\n::warning file=a::pwned.yaml""#
        );
        assert_eq!(shown("e\u{1b}[31mred.yaml"), r#""e\u{1b}[31mred.yaml""#);
        assert_eq!(shown("a\u{202e}lmay.exe"), r#""a\u{202e}lmay.exe""#);
        // Once quoted, a backslash or quote of the name itself is escaped too, so the
        // quoted form reads back to exactly one name.
        assert_eq!(shown("q\"\\\t.yaml"), r#""q\"\\\t.yaml""#);
    }

    #[test]
    fn messages_lose_their_line_breaks_and_escapes() {
        assert_eq!(visible("plain text"), "plain text");
        assert_eq!(visible("x\n::warning ::y"), r"x\n::warning ::y");
        assert_eq!(visible("key `\u{1b}]0;x\u{7}`"), r"key `\u{1b}]0;x\u{7}`");
        assert_eq!(visible("tab\there\r"), r"tab\there\r");
    }

    #[test]
    fn line_col_counts_characters_not_bytes() {
        let file = SourceFile::new("f.yaml".into(), "a: 1\nnäme: x\n");
        assert_eq!(file.line_col(0), LineCol { line: 1, column: 1 });
        let x = file.text().find('x').unwrap();
        assert_eq!(file.line_col(x), LineCol { line: 2, column: 7 });
        assert_eq!(file.offset_of(2, 6), x);
        let line = file.line_at(x);
        assert_eq!(&file.text()[line.start..line.end], "näme: x");
    }
}
