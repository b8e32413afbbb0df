//! Who may do what to a team's membership (SPEC §2): owners everything; admins manage members
//! and admins but never owners; members only leave.

use mit_api::server::models::TeamRole;

/// A change to a team's membership.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberAction {
    /// Add someone with this role.
    Add(TeamRole),
    /// Change a member's role.
    ChangeRole {
        /// Their role now.
        from: TeamRole,
        /// The role they would get.
        to: TeamRole,
    },
    /// Remove a member with this role (not oneself).
    Remove(TeamRole),
}

/// Whether an actor with role `actor` may perform `action` on someone else.
pub fn may(actor: TeamRole, action: MemberAction) -> bool {
    let below_owner = |role: TeamRole| matches!(role, TeamRole::Admin | TeamRole::Member);
    match (actor, action) {
        (TeamRole::Owner, _) => true,
        (TeamRole::Admin, MemberAction::Add(role)) => below_owner(role),
        (TeamRole::Admin, MemberAction::ChangeRole { from, to }) => below_owner(from) && below_owner(to),
        (TeamRole::Admin, MemberAction::Remove(role)) => below_owner(role),
        (TeamRole::Member, _) => false,
    }
}

/// Whether `role` may rename or re-describe the team.
pub fn may_edit_team(role: TeamRole) -> bool {
    matches!(role, TeamRole::Owner | TeamRole::Admin)
}

/// Whether `role` may delete the team.
pub fn may_delete_team(role: TeamRole) -> bool {
    role == TeamRole::Owner
}

#[cfg(test)]
mod tests {
    use super::*;
    use MemberAction::*;
    use TeamRole::*;

    #[test]
    fn owners_may_do_anything() {
        for action in [Add(Owner), ChangeRole { from: Owner, to: Member }, Remove(Owner)] {
            assert!(may(Owner, action), "{action:?}");
        }
    }

    #[test]
    fn admins_manage_members_and_admins_but_not_owners() {
        assert!(may(Admin, Add(Member)));
        assert!(may(Admin, Add(Admin)));
        assert!(!may(Admin, Add(Owner)));
        assert!(may(Admin, ChangeRole { from: Member, to: Admin }));
        assert!(!may(Admin, ChangeRole { from: Member, to: Owner }));
        assert!(!may(Admin, ChangeRole { from: Owner, to: Member }));
        assert!(may(Admin, Remove(Admin)));
        assert!(!may(Admin, Remove(Owner)));
    }

    #[test]
    fn members_manage_nothing() {
        for action in [Add(Member), ChangeRole { from: Member, to: Admin }, Remove(Member)] {
            assert!(!may(Member, action), "{action:?}");
        }
        assert!(!may_edit_team(Member));
        assert!(may_edit_team(Admin));
        assert!(!may_delete_team(Admin));
    }
}
