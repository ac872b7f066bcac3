"""Business rules for users and roles; views, the API and commands call these."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction

from console import audit
from console.permissions import Role, forget_role, role_of


def ensure_role_groups() -> None:
    """Create the group of every role (idempotent)."""
    for role in Role:
        Group.objects.get_or_create(name=role.group_name)


# Passed as `role` to leave a user's role as it is.
KEEP_ROLE: Any = object()


def _user_state(user: Any) -> dict[str, Any]:
    role = role_of(user)
    return {
        "username": user.username,
        "email": user.email,
        "is_active": user.is_active,
        "role": role.group_name if role else None,
    }


@transaction.atomic
def create_user(
    *, username: str, email: str = "", role: Role | None, password: str | None, by: Any, source: str
) -> Any:
    """Create a user holding `role`; without a password the account cannot log in yet."""
    user = get_user_model().objects.create_user(username=username, email=email, password=password)
    _assign_role(user, role)
    audit.record(actor=by, action="user.create", target=user, after=_user_state(user), source=source)
    return user


@transaction.atomic
def update_user(
    *, user: Any, by: Any, source: str, role: Role | None = KEEP_ROLE, email: str | None = None,
    is_active: bool | None = None,
) -> Any:  # fmt: skip
    """Change a user's role, email or active flag; what is not given stays as it is."""
    before = _user_state(user)
    if email is not None:
        user.email = email
    if is_active is not None:
        user.is_active = is_active
    user.save(update_fields=["email", "is_active"])
    if role is not KEEP_ROLE:
        _assign_role(user, role)
    after = _user_state(user)
    if after != before:
        audit.record(actor=by, action="user.update", target=user, before=before, after=after, source=source)
    return user


def _assign_role(user: Any, role: Role | None) -> None:
    ensure_role_groups()
    role_groups = Group.objects.filter(name__in=[r.group_name for r in Role])
    user.groups.remove(*role_groups)
    if role is not None:
        user.groups.add(Group.objects.get(name=role.group_name))
    forget_role(user)


@transaction.atomic
def set_password(*, user: Any, password: str, by: Any, source: str) -> None:
    """Set a user's password (validated by the caller); the log says it changed, never what to."""
    user.set_password(password)
    user.save(update_fields=["password"])
    audit.record(actor=by, action="user.password_set", target=user, source=source)
