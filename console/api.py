"""API endpoints of the console app: who am I, users and roles, the audit log."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.decorators import api_view, permission_classes
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from console import services
from console.models import AuditEntry
from console.permissions import Capability, HasCapability, IsConsoleUser
from console.serializers import AuditEntrySerializer, MeSerializer, UserSerializer, role_from_choice

logger = logging.getLogger(__name__)


def exception_handler(error: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler, plus model-level errors turned into 400s instead of 500s."""
    if isinstance(error, DjangoValidationError):
        detail = error.message_dict if hasattr(error, "error_dict") else {"non_field_errors": error.messages}
        error = ValidationError(detail)
    elif isinstance(error, IntegrityError):
        logger.info("integrity error answered with 400: %s", error)
        error = ValidationError({"non_field_errors": ["This conflicts with existing data."]})
    elif isinstance(error, DjangoPermissionDenied):
        return Response({"detail": str(error) or "Permission denied."}, status=status.HTTP_403_FORBIDDEN)
    return drf_exception_handler(error, context)


@extend_schema(responses=MeSerializer)
@api_view(["GET"])
@permission_classes([IsConsoleUser])
def me(request: Request) -> Response:
    """Return the caller's username, role and capabilities."""
    return Response(MeSerializer(request.user).data)


class ObtainTokenView(ObtainAuthToken):
    """Exchange a username and password for an API token; locked out like the login page."""

    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        try:
            return super().post(request, *args, **kwargs)
        except ValidationError:
            # django-axes refused before checking the password: say so, not "wrong password".
            if getattr(request, "axes_locked_out", False):
                minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
                detail = f"Too many failed logins. Try again in {minutes} minutes."
                return Response({"detail": detail}, status=status.HTTP_429_TOO_MANY_REQUESTS)
            raise


class UserViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Users and their roles (admin only). Users are deactivated, never deleted."""

    serializer_class = UserSerializer
    permission_classes = [HasCapability.requires(Capability.MANAGE_USERS)]
    queryset = get_user_model().objects.order_by("username").prefetch_related("groups")

    def perform_create(self, serializer: UserSerializer) -> None:
        data = serializer.validated_data
        serializer.instance = services.create_user(
            username=data["username"], email=data.get("email", ""), role=role_from_choice(data.get("role")),
            password=data.get("password"), by=self.request.user, source=AuditEntry.Source.API,
        )  # fmt: skip

    def perform_update(self, serializer: UserSerializer) -> None:
        data = serializer.validated_data
        changes: dict[str, Any] = {"email": data.get("email"), "is_active": data.get("is_active")}
        if "role" in data:
            changes["role"] = role_from_choice(data["role"])
        serializer.instance = services.update_user(
            user=serializer.instance, by=self.request.user, source=AuditEntry.Source.API, **changes
        )
        if "password" in data:
            services.set_password(
                user=serializer.instance, password=data["password"], by=self.request.user, source=AuditEntry.Source.API
            )


class AuditEntryViewSet(viewsets.ReadOnlyModelViewSet):
    """The audit log, newest first (admin only). Filter with ?actor=, ?action=, ?target_type=."""

    serializer_class = AuditEntrySerializer
    permission_classes = [HasCapability.requires(Capability.VIEW_AUDIT_LOG)]

    def get_queryset(self) -> Any:
        entries = AuditEntry.objects.all()
        params = self.request.query_params
        if params.get("actor"):
            entries = entries.filter(actor_name=params["actor"])
        if params.get("action"):
            entries = entries.filter(action=params["action"])
        if params.get("target_type"):
            entries = entries.filter(target_type=params["target_type"])
        return entries
