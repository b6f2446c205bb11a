"""Identity: accounts, sign-in sessions, organisations, memberships, invites and clusters.

Every public function is keyword-only and owns its unit of work. Functions that stamp or compare
times take ``now`` from the app's clock, so tests can move time; signing in and out keeps to the
tokens' clock (``Tokens.now``), the one tokens are checked against. The package is split by what
people do: signing up (accounts), signing in and out, belonging to organisations (memberships and
invites), changing organisations, and clusters; other domains ask who acts for which organisation
through ``affiliations``; callers import this facade, not the modules.
"""

from backend.identity.service.access import current_access
from backend.identity.service.accounts import (
    Me,
    NewOrganisation,
    create_platform_admin,
    get_me,
    register_account,
)
from backend.identity.service.affiliations import (
    Affiliation,
    admin_ids,
    affiliations_of,
    affiliations_on,
    existing_organisations,
    existing_people,
    member_ids,
    members_among,
)
from backend.identity.service.checks import normalise_email
from backend.identity.service.clusters import (
    CLUSTERS_BY_NAME,
    ClusterFilter,
    NewCluster,
    create_cluster,
    get_cluster,
    get_cluster_by_slug,
    list_clusters,
)
from backend.identity.service.memberships import (
    INVITE_ALPHABET,
    INVITE_LENGTH,
    MAX_INVITE_DAYS,
    MAX_INVITE_USES,
    MEMBERS_BY_JOINING,
    IssuedInvite,
    create_invite,
    join_organisation,
    list_members,
    remove_member,
)
from backend.identity.service.organisations import (
    ORGANISATIONS_BY_NAME,
    OrganisationChanges,
    OrganisationFilter,
    get_organisation,
    list_organisations,
    membership_in,
    privacy_readable,
    update_organisation,
)
from backend.identity.service.roster import RosterEntry, cluster_roster
from backend.identity.service.signing_in import (
    INVALID_CREDENTIALS,
    TokenPair,
    create_token,
    refresh_token,
    revoke_token,
)
from backend.identity.service.trust import (
    AUDIT_BY_TIME,
    AuditFilter,
    list_audit_records,
    set_account_active,
    set_organisation_verified,
)

__all__ = [
    "AUDIT_BY_TIME",
    "CLUSTERS_BY_NAME",
    "INVALID_CREDENTIALS",
    "INVITE_ALPHABET",
    "INVITE_LENGTH",
    "MAX_INVITE_DAYS",
    "MAX_INVITE_USES",
    "MEMBERS_BY_JOINING",
    "ORGANISATIONS_BY_NAME",
    "Affiliation",
    "AuditFilter",
    "ClusterFilter",
    "IssuedInvite",
    "Me",
    "NewCluster",
    "NewOrganisation",
    "OrganisationChanges",
    "OrganisationFilter",
    "RosterEntry",
    "TokenPair",
    "admin_ids",
    "affiliations_of",
    "affiliations_on",
    "cluster_roster",
    "create_cluster",
    "create_invite",
    "create_platform_admin",
    "create_token",
    "current_access",
    "existing_organisations",
    "existing_people",
    "get_cluster",
    "get_cluster_by_slug",
    "get_me",
    "get_organisation",
    "join_organisation",
    "list_audit_records",
    "list_clusters",
    "list_members",
    "list_organisations",
    "member_ids",
    "members_among",
    "membership_in",
    "normalise_email",
    "privacy_readable",
    "refresh_token",
    "register_account",
    "remove_member",
    "revoke_token",
    "set_account_active",
    "set_organisation_verified",
    "update_organisation",
]
