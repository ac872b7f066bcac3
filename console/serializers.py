from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from console.models import AuditEntry
from console.permissions import Role, capabilities_of, role_of

ROLE_CHOICES = [role.group_name for role in Role]


class MeSerializer(serializers.Serializer):
    username = serializers.CharField()
    role = serializers.SerializerMethodField()
    capabilities = serializers.SerializerMethodField()

    def get_role(self, user: Any) -> str | None:
        role = role_of(user)
        return role.group_name if role else None

    def get_capabilities(self, user: Any) -> list[str]:
        return [capability.value for capability in capabilities_of(user)]


class UserSerializer(serializers.ModelSerializer):
    role = serializers.ChoiceField(choices=ROLE_CHOICES, allow_null=True, required=False)
    password = serializers.CharField(write_only=True, required=False, style={"input_type": "password"})

    class Meta:
        model = get_user_model()
        fields = ["id", "username", "email", "is_active", "role", "password", "last_login", "date_joined"]
        read_only_fields = ["id", "last_login", "date_joined"]

    def to_representation(self, user: Any) -> dict[str, Any]:
        data = super().to_representation(user)
        role = role_of(user)
        data["role"] = role.group_name if role else None
        return data

    def validate_username(self, value: str) -> str:
        if self.instance is not None and value != self.instance.username:
            raise serializers.ValidationError("Usernames cannot be changed.")
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        password = attrs.get("password")
        if password is not None:
            try:
                validate_password(password, user=self.instance)
            except DjangoValidationError as error:
                raise serializers.ValidationError({"password": list(error.messages)}) from None
        return attrs


def role_from_choice(value: str | None) -> Role | None:
    return Role.from_group_name(value) if value else None


class AuditEntrySerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditEntry
        fields = [
            "id", "at", "actor", "actor_name", "action", "source", "target_type", "target_id",
            "target_repr", "before", "after", "remote_addr",
        ]  # fmt: skip
