"""Who may do what: the role matrix of DESIGN.md, in one place.

Views (`capability_required`), DRF endpoints (`HasCapability`, `IsConsoleUser`) and
websocket consumers (`can`) all ask this module, so a rule changes in one line.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import IntEnum, StrEnum
from functools import wraps
from typing import TYPE_CHECKING, Any

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from rest_framework.permissions import BasePermission

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
    from django.http import HttpRequest, HttpResponse

    User = AbstractBaseUser | AnonymousUser


class Role(IntEnum):
    """The console's roles, each holding every right of those below it."""

    VIEWER = 1
    SUPPORT = 2
    COMMANDER = 3
    ADMIN = 4

    @property
    def group_name(self) -> str:
        return self.name.lower()

    @property
    def label(self) -> str:
        return self.name.capitalize()

    @classmethod
    def from_group_name(cls, name: str) -> Role | None:
        return cls.__members__.get(name.upper())


class Capability(StrEnum):
    """Something a role may do; views and endpoints require one."""

    VIEW_CONSOLE = "view_console"
    POST_UPDATES = "post_updates"
    POST_INTERNAL_NOTES = "post_internal_notes"
    MANAGE_SUBSCRIBERS = "manage_subscribers"
    MANAGE_INCIDENTS = "manage_incidents"
    RUN_POSTMORTEMS = "run_postmortems"
    APPROVE_POSTMORTEMS = "approve_postmortems"
    SCHEDULE_MAINTENANCE = "schedule_maintenance"
    CONTROL_ENGINE = "control_engine"
    MANAGE_USERS = "manage_users"
    MANAGE_COMPONENTS = "manage_components"
    MANAGE_ALERT_RULES = "manage_alert_rules"
    VIEW_AUDIT_LOG = "view_audit_log"

    @property
    def label(self) -> str:
        return CAPABILITY_LABELS[self]


CAPABILITY_LABELS = {
    Capability.VIEW_CONSOLE: "Read the console and live dashboard",
    Capability.POST_UPDATES: "Post public updates",
    Capability.POST_INTERNAL_NOTES: "Post internal notes",
    Capability.MANAGE_SUBSCRIBERS: "Manage subscribers",
    Capability.MANAGE_INCIDENTS: "Declare, change and resolve incidents",
    Capability.RUN_POSTMORTEMS: "Run post-mortems",
    Capability.APPROVE_POSTMORTEMS: "Approve post-mortems",
    Capability.SCHEDULE_MAINTENANCE: "Schedule maintenance",
    Capability.CONTROL_ENGINE: "Change engine modes",
    Capability.MANAGE_USERS: "Manage users and roles",
    Capability.MANAGE_COMPONENTS: "Manage components",
    Capability.MANAGE_ALERT_RULES: "Manage alert rules",
    Capability.VIEW_AUDIT_LOG: "Read the audit log",
}

# The lowest role holding each capability (DESIGN.md, Roles). Anonymous visitors hold
# none of these: what they may do (read the status page, subscribe) needs no capability.
LOWEST_ROLE: dict[Capability, Role] = {
    Capability.VIEW_CONSOLE: Role.VIEWER,
    Capability.POST_UPDATES: Role.SUPPORT,
    Capability.POST_INTERNAL_NOTES: Role.SUPPORT,
    Capability.MANAGE_SUBSCRIBERS: Role.SUPPORT,
    Capability.MANAGE_INCIDENTS: Role.COMMANDER,
    Capability.RUN_POSTMORTEMS: Role.COMMANDER,
    Capability.APPROVE_POSTMORTEMS: Role.COMMANDER,
    Capability.SCHEDULE_MAINTENANCE: Role.COMMANDER,
    Capability.CONTROL_ENGINE: Role.COMMANDER,
    Capability.MANAGE_USERS: Role.ADMIN,
    Capability.MANAGE_COMPONENTS: Role.ADMIN,
    Capability.MANAGE_ALERT_RULES: Role.ADMIN,
    Capability.VIEW_AUDIT_LOG: Role.ADMIN,
}

_ROLE_CACHE_ATTRIBUTE = "_console_role"


def role_of(user: User | None) -> Role | None:
    """Return the user's highest role, or None for anonymous, inactive or role-less users."""
    if user is None or not user.is_authenticated or not user.is_active:
        return None
    if user.is_superuser:
        return Role.ADMIN
    if not hasattr(user, _ROLE_CACHE_ATTRIBUTE):
        names = user.groups.values_list("name", flat=True)
        roles = [role for name in names if (role := Role.from_group_name(name)) is not None]
        setattr(user, _ROLE_CACHE_ATTRIBUTE, max(roles, default=None))
    return getattr(user, _ROLE_CACHE_ATTRIBUTE)


def forget_role(user: Any) -> None:
    """Drop the role cached on a user object after its groups change."""
    if hasattr(user, _ROLE_CACHE_ATTRIBUTE):
        delattr(user, _ROLE_CACHE_ATTRIBUTE)


def can(user: User | None, capability: Capability) -> bool:
    """Return True when the user's role holds the capability."""
    role = role_of(user)
    return role is not None and role >= LOWEST_ROLE[capability]


def capabilities_of(user: User | None) -> list[Capability]:
    """Return every capability the user holds, in declaration order."""
    return [capability for capability in Capability if can(user, capability)]


def capability_required(capability: Capability) -> Callable:
    """Guard a view: anonymous users go to the login page, others without the capability get 403."""

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not can(request.user, capability):
                raise PermissionDenied(f"This page is for roles that may: {capability.label.lower()}.")
            return view(request, *args, **kwargs)

        return guarded

    return decorator


class HasCapability(BasePermission):
    """DRF permission: the request's user must hold `capability` (set by `requires`)."""

    capability: Capability = Capability.VIEW_CONSOLE

    def has_permission(self, request: Any, view: Any) -> bool:
        return can(request.user, self.capability)

    @classmethod
    def requires(cls, capability: Capability) -> type[HasCapability]:
        return type(f"Has{capability.name.title().replace('_', '')}", (cls,), {"capability": capability})


class IsConsoleUser(HasCapability):
    """DRF permission for anything in the console: viewer and up."""

    capability = Capability.VIEW_CONSOLE
