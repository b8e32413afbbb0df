//! Minutes as lines: how Markdown is split, and how a meeting's notes become minutes.

/// The most a review's text holds, in characters (the contract's `content` limit).
pub const MAX_CHARS: usize = 102_400;

/// Splits `content` on `\n` (a `\r\n` counts as one break); blank lines are kept and a final
/// break adds no empty line.
pub fn split(content: &str) -> Vec<String> {
    let body = content.strip_suffix('\n').unwrap_or(content);
    body.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l).to_string()).collect()
}

/// Why a meeting's notes cannot be its minutes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotesRefusal {
    /// There are none.
    NoNotes,
    /// Together they are longer than a review holds.
    TooLong,
}

/// The minutes made of a meeting's notes, in creation order, one blank line between notes.
pub fn from_notes(notes: &[String]) -> Result<String, NotesRefusal> {
    if notes.is_empty() {
        return Err(NotesRefusal::NoNotes);
    }
    let minutes = notes.iter().map(|n| n.trim_end_matches(['\r', '\n'])).collect::<Vec<_>>().join("\n\n");
    if minutes.chars().count() > MAX_CHARS {
        return Err(NotesRefusal::TooLong);
    }
    Ok(minutes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_split_on_breaks_keep_blank_lines_and_ignore_a_final_break() {
        assert_eq!(split("a\r\n\nb\n"), ["a", "", "b"]);
        assert_eq!(split("only"), ["only"]);
        assert_eq!(split("\n"), [""]);
    }

    #[test]
    fn notes_become_minutes_in_order_within_the_limit() {
        assert_eq!(from_notes(&["# A\n".into(), "b".into()]), Ok("# A\n\nb".into()));
        assert_eq!(from_notes(&[]), Err(NotesRefusal::NoNotes));
        let half = "x".repeat(MAX_CHARS / 2);
        assert_eq!(from_notes(&[half.clone(), half]), Err(NotesRefusal::TooLong), "two notes and the blank line between");
    }
}
