"""An authorization backend that gives the admin role the admin site's model rights."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import BaseBackend

from console.permissions import Role, role_of


class RoleBackend(BaseBackend):
    """Grant every model permission to users holding the admin role.

    The role groups carry no Django permissions of their own: the matrix in
    `console.permissions` is the single source of truth, and this maps it onto the
    admin site's per-model checks. It authenticates nobody.
    """

    def has_perm(self, user_obj: Any, perm: str, obj: Any = None) -> bool:
        return role_of(user_obj) == Role.ADMIN

    def has_module_perms(self, user_obj: Any, app_label: str) -> bool:
        return role_of(user_obj) == Role.ADMIN
