//! Ground Truth's rules that need no storage: how keys compare, who may edit, and how two values
//! are compared line by line.

use mit_api::server::models::{FactDiffLine, FactDiffOp, TeamRole};
use similar::{ChangeTag, TextDiff};

/// A key as stored: surrounding whitespace removed (uniqueness also ignores case, in the
/// database). `None` when nothing is left.
pub fn normalise_key(key: &str) -> Option<String> {
    let trimmed = key.trim();
    (!trimmed.is_empty()).then(|| trimmed.to_string())
}

/// Whether `role` may edit metadata, archive facts and manage projects.
pub fn may_curate(role: TeamRole) -> bool {
    matches!(role, TeamRole::Owner | TeamRole::Admin)
}

/// The line diff from `from` to `to`: lines in both, only in `from`, only in `to`, in order.
pub fn line_diff(from: &str, to: &str) -> Vec<FactDiffLine> {
    TextDiff::from_lines(from, to)
        .iter_all_changes()
        .map(|change| FactDiffLine {
            op: match change.tag() {
                ChangeTag::Equal => FactDiffOp::Equal,
                ChangeTag::Delete => FactDiffOp::Removed,
                ChangeTag::Insert => FactDiffOp::Added,
            },
            text: change.value().trim_end_matches(['\r', '\n']).to_string(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_trimmed_and_blank_keys_refused() {
        assert_eq!(normalise_key("  Marketing budget "), Some("Marketing budget".into()));
        assert_eq!(normalise_key(" \t "), None);
    }

    #[test]
    fn only_admins_and_owners_curate() {
        assert!(may_curate(TeamRole::Owner) && may_curate(TeamRole::Admin) && !may_curate(TeamRole::Member));
    }

    #[test]
    fn a_line_diff_keeps_common_lines_and_marks_the_rest() {
        let lines = line_diff("budget: 50M\nowner: Ada", "budget: 70M\nowner: Ada");
        let ops: Vec<(FactDiffOp, &str)> = lines.iter().map(|l| (l.op, l.text.as_str())).collect();
        assert_eq!(ops, [(FactDiffOp::Removed, "budget: 50M"), (FactDiffOp::Added, "budget: 70M"), (FactDiffOp::Equal, "owner: Ada")]);
        assert!(line_diff("same", "same").iter().all(|l| l.op == FactDiffOp::Equal));
    }
}
