"""Every change leaves an audit entry: through the admin site, the API and the services."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from console import audit
from console.models import AuditEntry
from console.permissions import Role, role_of


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def user_change_form(user, **overrides) -> dict:
    """Return the admin's user change form as a browser would post it, with overrides."""
    data = {
        "username": user.username, "first_name": user.first_name, "last_name": user.last_name,
        "email": user.email, "is_active": "on", "groups": [str(pk) for pk in user.groups.values_list("pk", flat=True)],
        "date_joined_0": user.date_joined.strftime("%Y-%m-%d"), "date_joined_1": user.date_joined.strftime("%H:%M:%S"),
        "initial-date_joined_0": user.date_joined.strftime("%Y-%m-%d"),
        "initial-date_joined_1": user.date_joined.strftime("%H:%M:%S"),
    }  # fmt: skip
    data.update(overrides)
    return data


def test_a_role_change_through_the_admin_is_audited_with_before_and_after(admin, viewer):
    # given
    commander_group = Group.objects.get(name="commander")
    form = user_change_form(viewer, email="vera@example.com", groups=[str(commander_group.pk)])
    # when
    response = logged_in(admin).post(f"/admin/auth/user/{viewer.pk}/change/", form)
    # then
    assert response.status_code == 302, response.content.decode()[:2000]
    entry = AuditEntry.objects.get(action="admin.change", target_id=str(viewer.pk))
    assert entry.actor == admin
    assert entry.source == AuditEntry.Source.ADMIN
    assert entry.target_type == "auth.user"
    assert entry.before["groups"] == ["viewer"]
    assert entry.after["groups"] == ["commander"]
    assert entry.changed_fields()["email"] == ("", "vera@example.com")
    assert "password" not in entry.after


def test_an_addition_and_a_deletion_through_the_admin_are_audited(admin):
    client = logged_in(admin)
    response = client.post("/admin/auth/group/add/", {"name": "auditors"})
    assert response.status_code == 302
    added = AuditEntry.objects.get(action="admin.add", target_type="auth.group")
    assert (added.before, added.after["name"]) == (None, "auditors")

    response = client.post(f"/admin/auth/group/{added.target_id}/delete/", {"post": "yes"})
    assert response.status_code == 302
    deleted = AuditEntry.objects.get(action="admin.delete")
    assert deleted.target_id == added.target_id
    assert deleted.before["name"] == "auditors"
    assert not Group.objects.filter(name="auditors").exists()


def test_a_role_change_through_the_api_is_audited(admin, viewer):
    # given an admin calling the API with a token
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=admin).key}")
    # when
    response = client.patch(f"/api/v1/users/{viewer.pk}/", {"role": "commander"}, format="json")
    # then
    assert response.status_code == 200, response.json()
    assert response.json()["role"] == "commander"
    entry = AuditEntry.objects.get(action="user.update", source=AuditEntry.Source.API)
    assert (entry.actor, entry.source, entry.target_id) == (admin, AuditEntry.Source.API, str(viewer.pk))
    assert entry.changed_fields() == {"role": ("viewer", "commander")}
    assert role_of(type(viewer).objects.get(pk=viewer.pk)) == Role.COMMANDER


def test_creating_a_user_through_the_api_is_audited_and_never_logs_the_password(admin):
    client = APIClient()
    client.force_authenticate(admin)
    body = {"username": "newbie", "email": "n@example.com", "role": "support", "password": "correct-horse-battery"}
    response = client.post("/api/v1/users/", body, format="json")
    assert response.status_code == 201, response.json()
    assert "password" not in response.json()
    entry = AuditEntry.objects.get(action="user.create", source=AuditEntry.Source.API)
    assert entry.after == {"username": "newbie", "email": "n@example.com", "is_active": True, "role": "support"}
    assert "correct-horse-battery" not in str(AuditEntry.objects.values_list("before", "after"))


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"username": "x", "role": "overlord"}, "role", "is not a valid choice"),
        ({"username": "x", "role": "viewer", "password": "123"}, "password", "too short"),
        ({"role": "viewer"}, "username", "required"),
    ],
)
def test_bad_user_input_gets_a_400_with_field_messages_and_changes_nothing(admin, body, field, message):
    client = APIClient()
    client.force_authenticate(admin)
    response = client.post("/api/v1/users/", body, format="json")
    assert response.status_code == 400
    assert message in " ".join(response.json()[field])
    assert not AuditEntry.objects.filter(source=AuditEntry.Source.API).exists()


def test_a_duplicate_username_is_a_400_not_a_500(admin, viewer):
    client = APIClient()
    client.force_authenticate(admin)
    response = client.post("/api/v1/users/", {"username": viewer.username, "role": "viewer"}, format="json")
    assert response.status_code == 400
    assert "username" in response.json()


def test_the_audit_log_lists_entries_newest_first_and_filters_them(admin, viewer):
    audit.record(actor=admin, action="demo.first", target=viewer)
    audit.record(actor=admin, action="demo.second", target=viewer)
    client = APIClient()
    client.force_authenticate(admin)
    results = client.get("/api/v1/audit/").json()["results"]
    assert [entry["action"] for entry in results[:2]] == ["demo.second", "demo.first"]
    filtered = client.get("/api/v1/audit/", {"action": "demo.first"}).json()["results"]
    assert [entry["action"] for entry in filtered] == ["demo.first"]


def test_the_audit_log_page_shows_what_changed(admin, viewer):
    audit.record(actor=admin, action="user.update", target=viewer, before={"role": "viewer"}, after={"role": "admin"})
    html = logged_in(admin).get("/console/audit/").content.decode()
    assert "user.update" in html
    assert "viewer → admin" in html


def test_audit_entries_cannot_be_edited(admin):
    entry = audit.record(actor=admin, action="demo.once")
    entry.action = "demo.rewritten"
    with pytest.raises(ValueError, match="append-only"):
        entry.save()


def test_the_admin_site_offers_no_way_to_change_the_audit_log(admin):
    entry = audit.record(actor=admin, action="demo.once")
    client = logged_in(admin)
    assert client.get("/admin/console/auditentry/").status_code == 200
    assert client.get("/admin/console/auditentry/add/").status_code == 403
    assert client.post(f"/admin/console/auditentry/{entry.pk}/delete/", {"post": "yes"}).status_code == 403


def test_the_audit_log_page_shows_blank_and_boolean_values_readably(admin, viewer):
    audit.record(
        actor=admin, action="user.update", target=viewer,
        before={"email": "", "is_active": True}, after={"email": "v@example.com", "is_active": False},
    )  # fmt: skip
    html = logged_in(admin).get("/console/audit/").content.decode()
    assert "— → v@example.com" in html
    assert "yes → no" in html
