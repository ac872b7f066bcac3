"""The admin site: open to the admin role, and every change it makes is audited."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db import models
from django.http import HttpRequest

from console import audit
from console.models import AuditEntry
from console.permissions import Capability, can


class AuditedAdminMixin:
    """Record an audit entry for every add, change and delete made through the admin."""

    def save_model(self, request: HttpRequest, obj: models.Model, form: Any, change: bool) -> None:
        if change:
            # Read the stored row: the form has already written its values onto `obj`.
            stored = type(obj)._default_manager.filter(pk=obj.pk).first()
            obj._audit_before = audit.snapshot(stored) if stored is not None else None
        super().save_model(request, obj, form, change)

    # Django calls these after save_related(), so many-to-many changes are in `after`.
    def log_addition(self, request: HttpRequest, obj: models.Model, message: Any) -> Any:
        self._audit(request, obj, "admin.add", before=None)
        return super().log_addition(request, obj, message)

    def log_change(self, request: HttpRequest, obj: models.Model, message: Any) -> Any:
        self._audit(request, obj, "admin.change", before=getattr(obj, "_audit_before", None))
        return super().log_change(request, obj, message)

    def delete_model(self, request: HttpRequest, obj: models.Model) -> None:
        audit.record(
            actor=request.user, action="admin.delete", target=obj, before=audit.snapshot(obj),
            source=AuditEntry.Source.ADMIN, request=request,
        )  # fmt: skip
        super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: models.QuerySet) -> None:
        for obj in queryset:
            audit.record(
                actor=request.user, action="admin.delete", target=obj, before=audit.snapshot(obj),
                source=AuditEntry.Source.ADMIN, request=request,
            )  # fmt: skip
        super().delete_queryset(request, queryset)

    def _audit(self, request: HttpRequest, obj: models.Model, action: str, *, before: dict | None) -> None:
        audit.record(
            actor=request.user, action=action, target=obj, before=before, after=audit.snapshot(obj),
            source=AuditEntry.Source.ADMIN, request=request,
        )  # fmt: skip


class ConsoleAdminSite(admin.AdminSite):
    site_header = "Exchange Console administration"
    site_title = "Exchange Console admin"
    index_title = "Users, roles and configuration"

    def has_permission(self, request: HttpRequest) -> bool:
        return request.user.is_active and can(request.user, Capability.MANAGE_USERS)

    def register(self, model_or_iterable: Any, admin_class: Any = None, **options: Any) -> None:
        # Wrapping here covers every app's admin, ours and third parties', in one place.
        base = admin_class or admin.ModelAdmin
        if not issubclass(base, AuditedAdminMixin):
            base = type(f"Audited{base.__name__}", (AuditedAdminMixin, base), {"__module__": base.__module__})
        super().register(model_or_iterable, base, **options)
