"""organizations.permissions is the one owner of "who may do what"; its answers for every role, exactly."""

import pytest

from organizations import permissions
from organizations.models import Membership, Role, User

ROLES = [Role.OWNER, Role.ADMIN, Role.MEMBER]


def person(pk: int, superuser: bool = False) -> User:
    return User(pk=pk, email=f"p{pk}@example.test", is_superuser=superuser)


def member(user: User, role) -> Membership:
    return Membership(user=user, role=role)


@pytest.mark.parametrize(
    ("role", "manages", "owns"),
    [(Role.OWNER, True, True), (Role.ADMIN, True, False), (Role.MEMBER, False, False), (None, False, False)],
)
def test_who_manages_and_who_owns(role, manages, owns):
    user = person(1)
    membership = member(user, role) if role else None
    assert permissions.manages(user, membership) is manages
    assert permissions.sees_all_work(user, membership) is manages
    assert permissions.owns(user, membership) is owns
    assert (membership.can_manage if membership else False) is manages  # the model asks the same rule


def test_a_super_admin_manages_and_owns_without_a_membership():
    root = person(9, superuser=True)
    assert permissions.manages(root, None) and permissions.owns(root, None)


# Rows: the actor's role; columns: the target's role (owner, admin, member); True: may change the target's role.
ROLE_CHANGES = {
    Role.OWNER: (True, True, True),
    Role.ADMIN: (False, True, True),
    Role.MEMBER: (False, False, False),
}


@pytest.mark.parametrize("actor_role", ROLES)
def test_who_may_change_whose_role(actor_role):
    actor = person(1)
    mine = member(actor, actor_role)
    got = tuple(permissions.may_change_role(actor, mine, member(person(2), target)) for target in ROLES)
    assert got == ROLE_CHANGES[actor_role]
    assert permissions.may_change_role(actor, mine, mine) is False, "nobody changes their own role"
