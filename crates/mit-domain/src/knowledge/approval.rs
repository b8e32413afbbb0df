//! The approval rule and the merge decision as plain functions over what the merge's transaction
//! read with its rows locked: the team's members and roles, the branch's approvals and vetoes,
//! and the fact's version.

use mit_api::server::models::{ApproverGroup, TeamRole};
use uuid::Uuid;

/// A team's rule for merging branches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    /// Whose approvals count.
    pub approvers: ApproverGroup,
    /// How many must approve; `None`: every eligible approver (at least one).
    pub required: Option<u32>,
}

impl Default for Rule {
    fn default() -> Self {
        Self { approvers: ApproverGroup::Admins, required: None }
    }
}

impl Rule {
    /// Whether a member with `role` is an approver under this rule.
    pub fn counts(&self, role: TeamRole) -> bool {
        match self.approvers {
            ApproverGroup::Admins => matches!(role, TeamRole::Owner | TeamRole::Admin),
            ApproverGroup::Members => true,
        }
    }
}

/// Where a branch stands against the rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Standing {
    /// Approvals that count.
    pub counted: usize,
    /// Approvals needed.
    pub required: usize,
    /// Whether the counted approvals suffice.
    pub met: bool,
    /// Whether enough eligible approvers exist to ever meet it.
    pub reachable: bool,
}

/// Evaluates `rule` for a branch by `author` approved by `approvers`, with the team's `members`.
pub fn evaluate(rule: &Rule, members: &[(Uuid, TeamRole)], author: Uuid, approvers: &[Uuid]) -> Standing {
    let eligible: Vec<Uuid> = members.iter().filter(|(user, role)| *user != author && rule.counts(*role)).map(|(user, _)| *user).collect();
    let required = rule.required.map_or(eligible.len().max(1), |n| n as usize);
    let counted = approvers.iter().filter(|a| eligible.contains(a)).count();
    Standing { counted, required, met: counted >= required, reachable: eligible.len() >= required }
}

/// How a merge may go ahead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MergeKind {
    /// The rule is met.
    Approved,
    /// An owner merges a branch whose rule can never be met, giving a reason.
    Override,
}

/// Why a merge is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MergeRefusal {
    /// Only the author or an admin or owner merges.
    NotAllowed,
    /// The branch was proposed against an older version.
    StaleBase,
    /// Someone vetoed it.
    Vetoed,
    /// The rule is not met (and no override is allowed).
    ApprovalRequired(Standing),
}

/// What the merge decision reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MergeInput<'a> {
    /// Who merges, and their role.
    pub actor: (Uuid, TeamRole),
    /// The branch's author.
    pub author: Uuid,
    /// The version the branch was proposed against.
    pub base_version: i32,
    /// The fact's version now.
    pub fact_version: i32,
    /// Standing vetoes.
    pub vetoes: usize,
    /// The rule's verdict.
    pub standing: Standing,
    /// The owner's reason to override, if given.
    pub override_reason: Option<&'a str>,
}

/// Decides a merge of an open branch.
pub fn decide_merge(input: &MergeInput<'_>) -> Result<MergeKind, MergeRefusal> {
    let (actor, role) = input.actor;
    if actor != input.author && !matches!(role, TeamRole::Owner | TeamRole::Admin) {
        return Err(MergeRefusal::NotAllowed);
    }
    if input.base_version != input.fact_version {
        return Err(MergeRefusal::StaleBase);
    }
    if input.vetoes > 0 {
        return Err(MergeRefusal::Vetoed);
    }
    match (input.standing.met, input.override_reason) {
        (true, None) => Ok(MergeKind::Approved),
        (_, Some(_)) if role == TeamRole::Owner && !input.standing.reachable => Ok(MergeKind::Override),
        _ => Err(MergeRefusal::ApprovalRequired(input.standing)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn team() -> (Uuid, Uuid, Uuid, Vec<(Uuid, TeamRole)>) {
        let (owner, admin, member) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        (owner, admin, member, vec![(owner, TeamRole::Owner), (admin, TeamRole::Admin), (member, TeamRole::Member)])
    }

    #[test]
    fn by_default_every_admin_and_owner_but_the_author_approves() {
        let (owner, admin, member, members) = team();
        let rule = Rule::default();
        assert_eq!(evaluate(&rule, &members, member, &[owner]), Standing { counted: 1, required: 2, met: false, reachable: true });
        assert!(evaluate(&rule, &members, member, &[owner, admin]).met);
        assert!(evaluate(&rule, &members, admin, &[owner]).met, "the author is not needed");
        assert_eq!(evaluate(&rule, &members, member, &[member]).counted, 0, "the author's own approval never counts");
    }

    #[test]
    fn a_member_approval_counts_only_under_a_members_rule() {
        let (owner, _, member, members) = team();
        let rule = Rule { approvers: ApproverGroup::Members, required: Some(1) };
        let author = Uuid::now_v7();
        assert!(evaluate(&rule, &members, author, &[member]).met);
        assert!(!evaluate(&Rule::default(), &members, author, &[member]).met);
        assert!(evaluate(&Rule { required: Some(1), ..Rule::default() }, &members, author, &[owner]).met);
    }

    #[test]
    fn a_team_whose_only_admin_is_the_author_can_never_meet_the_rule() {
        let owner = Uuid::now_v7();
        let standing = evaluate(&Rule::default(), &[(owner, TeamRole::Owner)], owner, &[]);
        assert_eq!(standing, Standing { counted: 0, required: 1, met: false, reachable: false });
    }

    fn input(actor: (Uuid, TeamRole), author: Uuid, standing: Standing) -> MergeInput<'static> {
        MergeInput { actor, author, base_version: 3, fact_version: 3, vetoes: 0, standing, override_reason: None }
    }

    #[test]
    fn merging_checks_who_the_base_the_vetoes_and_the_rule_in_that_order() {
        let (owner, _, member, _) = team();
        let met = Standing { counted: 1, required: 1, met: true, reachable: true };
        assert_eq!(decide_merge(&input((member, TeamRole::Member), owner, met)), Err(MergeRefusal::NotAllowed));
        assert_eq!(decide_merge(&input((member, TeamRole::Member), member, met)), Ok(MergeKind::Approved));
        let stale = MergeInput { fact_version: 4, ..input((owner, TeamRole::Owner), member, met) };
        assert_eq!(decide_merge(&stale), Err(MergeRefusal::StaleBase));
        let vetoed = MergeInput { vetoes: 1, ..input((owner, TeamRole::Owner), member, met) };
        assert_eq!(decide_merge(&vetoed), Err(MergeRefusal::Vetoed));
        let unmet = Standing { counted: 0, required: 1, met: false, reachable: true };
        assert_eq!(decide_merge(&input((owner, TeamRole::Owner), member, unmet)), Err(MergeRefusal::ApprovalRequired(unmet)));
    }

    #[test]
    fn only_an_owner_overrides_and_only_a_rule_that_can_never_be_met() {
        let (owner, admin, _, _) = team();
        let stuck = Standing { counted: 0, required: 1, met: false, reachable: false };
        let reachable = Standing { reachable: true, ..stuck };
        let with_reason = |actor, standing| MergeInput { override_reason: Some("sole admin"), ..input(actor, owner, standing) };
        assert_eq!(decide_merge(&with_reason((owner, TeamRole::Owner), stuck)), Ok(MergeKind::Override));
        assert_eq!(decide_merge(&with_reason((admin, TeamRole::Admin), stuck)), Err(MergeRefusal::ApprovalRequired(stuck)));
        assert_eq!(decide_merge(&with_reason((owner, TeamRole::Owner), reachable)), Err(MergeRefusal::ApprovalRequired(reachable)));
        assert_eq!(decide_merge(&input((owner, TeamRole::Owner), owner, stuck)), Err(MergeRefusal::ApprovalRequired(stuck)));
    }
}
