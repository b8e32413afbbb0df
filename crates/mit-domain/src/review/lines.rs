//! Minutes as lines: how Markdown is split, and the limits a line keeps.

use crate::error::DomainError;

/// The longest line, in characters.
pub const MAX_LINE_CHARS: usize = 10_000;

/// Splits `content` on `\n` (a `\r\n` counts as one break); blank lines are kept and a final
/// break adds no empty line. A line over [`MAX_LINE_CHARS`] is refused, naming it.
pub fn split(content: &str) -> Result<Vec<String>, DomainError> {
    let body = content.strip_suffix('\n').unwrap_or(content);
    let lines: Vec<String> = body.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l).to_string()).collect();
    if let Some((index, _)) = lines.iter().enumerate().find(|(_, l)| l.chars().count() > MAX_LINE_CHARS) {
        return Err(DomainError::Invalid {
            field: "content",
            message: format!("line {} is longer than {MAX_LINE_CHARS} characters", index + 1),
            details: vec![("line_number", (index + 1).into())],
        });
    }
    Ok(lines)
}

/// The minutes made of a meeting's notes, in creation order, one blank line between notes.
pub fn from_notes(notes: &[String]) -> Option<String> {
    if notes.is_empty() {
        return None;
    }
    let trimmed: Vec<&str> = notes.iter().map(|n| n.trim_end_matches(['\r', '\n'])).collect();
    Some(trimmed.join("\n\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_split_on_breaks_keep_blank_lines_and_ignore_a_final_break() {
        assert_eq!(split("a\r\n\nb\n").expect("split"), ["a", "", "b"]);
        assert_eq!(split("only").expect("split"), ["only"]);
        assert_eq!(split("\n").expect("split"), [""]);
    }

    #[test]
    fn a_line_over_the_limit_is_named() {
        let text = format!("ok\n{}", "x".repeat(MAX_LINE_CHARS + 1));
        let Err(DomainError::Invalid { details, .. }) = split(&text) else { panic!("refused") };
        assert_eq!(details, vec![("line_number", 2.into())]);
    }

    #[test]
    fn notes_become_minutes_in_order() {
        assert_eq!(from_notes(&["# A\n".into(), "b".into()]).as_deref(), Some("# A\n\nb"));
        assert_eq!(from_notes(&[]), None);
    }
}
