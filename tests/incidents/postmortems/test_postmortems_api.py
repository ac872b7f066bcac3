"""The post-mortem API: the workflow end to end, who may do what, refusals that say why, inert Markdown."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.test import Client

from incidents import services as incident_services
from incidents.models import Incident
from incidents.postmortems import services
from incidents.postmortems.models import ActionItem, Postmortem
from tests.console.test_role_matrix import ADMIN, ANONYMOUS, COMMANDER, OUTSIDER, SUPPORT, VIEWER, client_for

pytestmark = pytest.mark.django_db

XSS = ["<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "[x](javascript:alert(1))"]


def call(client: Client, method: str, path: str, body: dict | None = None):
    return getattr(client, method)(path, body or {}, content_type="application/json")


def send(persona, name: str, method: str, path: str, body: dict | None = None):
    return call(client_for(persona, name), method, path, body)


def as_user(user, method: str, path: str, body: dict | None = None):
    client = Client()
    client.force_login(user)
    return call(client, method, path, body)


@pytest.fixture
def code(postmortem) -> str:
    return postmortem.incident.code


def test_a_commander_creates_the_post_mortem_of_a_resolved_incident(persona, incident):
    response = send(persona, COMMANDER, "post", f"/api/v1/incidents/{incident.code}/postmortem/")
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["code"], body["status"], body["author"]) == (incident.code, "draft", persona(COMMANDER).username)
    assert [section["key"] for section in body["sections"]][:3] == ["summary", "customer_impact", "trigger"]
    assert body["incident"]["status"] == "resolved"
    assert (
        body["key_figures"]["time_to_resolve_seconds"] == (incident.resolved_at - incident.started_at).total_seconds()
    )
    again = send(persona, COMMANDER, "post", f"/api/v1/incidents/{incident.code}/postmortem/")
    assert again.status_code == 400
    assert "already has a post-mortem" in again.json()["incident"][0]


def test_an_open_incident_gets_a_400_that_says_why(persona, commander):
    open_incident = incident_services.declare_incident(title="Withdrawals stuck", by=commander)
    response = send(persona, COMMANDER, "post", f"/api/v1/incidents/{open_incident.code}/postmortem/")
    assert response.status_code == 400
    assert "once the incident is resolved" in response.json()["incident"][0]
    assert send(persona, COMMANDER, "post", "/api/v1/incidents/INC-1999-0001/postmortem/").status_code == 404


def test_the_whole_workflow_runs_through_the_api(persona, code, reviewer):
    # given a draft written through PATCH
    patch = {"sections": {"summary": "A slow disk delayed orders."}, "public_summary": "Orders were slow for 40 min."}
    written = send(persona, COMMANDER, "patch", f"/api/v1/postmortems/{code}/", patch)
    assert written.status_code == 200, written.content
    summary = next(section for section in written.json()["sections"] if section["key"] == "summary")
    assert summary["body_html"] == "<p>A slow disk delayed orders.</p>"
    # when it is published before approval
    early = send(persona, COMMANDER, "post", f"/api/v1/postmortems/{code}/publish/")
    # then the refusal names the way
    assert early.status_code == 400
    assert early.json()["status"] == ["Only a post-mortem approved can be published; this one is draft."]
    # when it goes through review and approval by another commander
    assert send(persona, COMMANDER, "post", f"/api/v1/postmortems/{code}/submit/").json()["status"] == "in_review"
    assert send(persona, COMMANDER, "post", f"/api/v1/postmortems/{code}/approve/").status_code == 403
    approved = as_user(reviewer, "post", f"/api/v1/postmortems/{code}/approve/")
    assert (approved.json()["status"], approved.json()["approved_by"]) == ("approved", reviewer.username)
    published = send(persona, COMMANDER, "post", f"/api/v1/postmortems/{code}/publish/")
    # then it is published and the incident is in post-mortem
    assert published.status_code == 200
    assert published.json()["status"] == "published"
    assert published.json()["incident"]["status"] == "postmortem"
    assert Incident.objects.get(code=code).status == Incident.Status.POSTMORTEM


def test_its_author_is_refused_approval_with_a_403_that_says_why(persona, code):
    send(persona, COMMANDER, "post", f"/api/v1/postmortems/{code}/submit/")
    response = send(persona, COMMANDER, "post", f"/api/v1/postmortems/{code}/approve/")
    assert response.status_code == 403
    assert response.json()["detail"] == "You wrote this post-mortem; another commander must approve it."


def test_changes_are_requested_with_a_comment(persona, code, reviewer):
    send(persona, COMMANDER, "post", f"/api/v1/postmortems/{code}/submit/")
    assert as_user(reviewer, "post", f"/api/v1/postmortems/{code}/request-changes/", {}).status_code == 400
    answer = as_user(reviewer, "post", f"/api/v1/postmortems/{code}/request-changes/", {"comment": "Add the trigger."})
    assert (answer.json()["status"], answer.json()["review_comment"]) == ("draft", "Add the trigger.")


@pytest.mark.parametrize("payload", XSS)
def test_markdown_payloads_in_sections_and_the_public_summary_are_rendered_inert(persona, code, payload):
    body = {"sections": {"root_cause": payload}, "public_summary": payload}
    answer = send(persona, COMMANDER, "patch", f"/api/v1/postmortems/{code}/", body).json()
    root_cause = next(section for section in answer["sections"] if section["key"] == "root_cause")
    for html in (root_cause["body_html"], answer["public_summary_html"]):
        assert "<script" not in html
        assert "<img" not in html
        assert "onerror" not in html
        assert "javascript:" not in html
    assert root_cause["body"] == payload  # the Markdown is kept as written; only the HTML is cleaned


def test_a_bad_patch_changes_nothing(persona, code):
    body = {"sections": {"summary": "kept?", "no_such_section": "x"}}
    response = send(persona, COMMANDER, "patch", f"/api/v1/postmortems/{code}/", body)
    assert response.status_code == 400
    assert "No section 'no_such_section'" in response.json()["sections"][0]
    assert Postmortem.objects.get(incident__code=code).sections.get(key="summary").body == ""
    backwards = send(persona, COMMANDER, "patch", f"/api/v1/postmortems/{code}/",
                     {"window_start": "2026-01-02T10:00:00Z", "window_end": "2026-01-02T09:00:00Z"})  # fmt: skip
    assert "must end after it starts" in backwards.json()["window_end"][0]


def test_post_mortems_are_listed_and_filtered_by_status(persona, code):
    listed = send(persona, VIEWER, "get", "/api/v1/postmortems/").json()
    assert [(row["code"], row["status"], row["open_action_items"]) for row in listed] == [(code, "draft", 0)]
    assert send(persona, VIEWER, "get", "/api/v1/postmortems/?status=published").json() == []
    assert send(persona, VIEWER, "get", "/api/v1/postmortems/?status=lost").status_code == 400


def test_the_post_mortem_downloads_as_markdown(persona, code):
    response = client_for(persona, VIEWER).get(f"/api/v1/postmortems/{code}/postmortem.md")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/markdown")
    text = response.content.decode()
    assert text.startswith(f"# Post-mortem: {code} Orders time out")
    assert "## Timeline" in text
    assert "## Action items" in text
    assert "## Lessons" in text


def test_the_timeline_copy_is_edited_through_the_api(persona, code):
    added = send(persona, COMMANDER, "post", f"/api/v1/postmortems/{code}/timeline/",
                 {"at": "2026-01-02T09:58:00Z", "kind": "trigger", "summary": "Disk full"})  # fmt: skip
    assert added.status_code == 201, added.content
    entry = added.json()["id"]
    path = f"/api/v1/postmortems/{code}/timeline/{entry}/"
    assert send(persona, COMMANDER, "patch", path, {"summary": "Journal disk full"}).json()["summary"] == (
        "Journal disk full"
    )
    assert send(persona, COMMANDER, "delete", path).status_code == 204
    assert send(persona, COMMANDER, "delete", path).status_code == 404
    detail = send(persona, VIEWER, "get", f"/api/v1/postmortems/{code}/").json()
    assert entry not in [row["id"] for row in detail["timeline"]]
    assert all(row["source"] is not None for row in detail["timeline"])


def test_action_items_are_added_listed_filtered_and_closed_by_their_owner(persona, code, postmortem):
    owner = persona(VIEWER)
    body = {"title": "Alert on disk at 80%", "owner": owner.username, "due_on": "2026-01-01", "priority": "p1"}
    created = send(persona, COMMANDER, "post", f"/api/v1/postmortems/{code}/action-items/", body)
    assert created.status_code == 201, created.content
    item = created.json()
    assert (item["incident"], item["owner"], item["overdue"]) == (code, owner.username, True)
    services.add_action_item(postmortem=postmortem, title="Runbook", due_on=date.today() + timedelta(days=9),
                             by=persona(COMMANDER))  # fmt: skip

    def listed(query: str) -> list[str]:
        return [row["title"] for row in send(persona, VIEWER, "get", f"/api/v1/action-items/{query}").json()]

    assert listed("") == ["Alert on disk at 80%", "Runbook"]
    assert listed("?overdue=true") == ["Alert on disk at 80%"]
    assert listed(f"?owner={owner.username}") == ["Alert on disk at 80%"]
    path = f"/api/v1/action-items/{item['id']}/"
    assert send(persona, VIEWER, "patch", path, {"priority": "p4"}).status_code == 403
    closed = send(persona, VIEWER, "patch", path, {"status": "done"})
    assert closed.json()["status"] == "done"
    assert closed.json()["completed_at"] is not None
    assert listed("?open=true") == ["Runbook"]
    assert listed("?status=done") == ["Alert on disk at 80%"]
    assert send(persona, SUPPORT, "patch", path, {"status": "open"}).status_code == 403


def test_bad_action_item_input_is_a_400(persona, code):
    path = f"/api/v1/postmortems/{code}/action-items/"
    for body in [{}, {"title": "x", "owner": "ghost"}, {"title": "x", "link": "javascript:alert(1)"},
                 {"title": "x", "priority": "p9"}, {"title": "x", "owner": persona(OUTSIDER).username}]:  # fmt: skip
        assert send(persona, COMMANDER, "post", path, body).status_code == 400, body
    assert ActionItem.objects.count() == 0


# -- the role matrix: every write refused below commander -------------------------------------


def writes(code: str, entry: int, item: int) -> list[tuple[str, str, dict]]:
    base = f"/api/v1/postmortems/{code}"
    return [
        ("post", f"/api/v1/incidents/{code}/postmortem/", {}),
        ("patch", f"{base}/", {"public_summary": "x"}),
        ("post", f"{base}/submit/", {}),
        ("post", f"{base}/request-changes/", {"comment": "x"}),
        ("post", f"{base}/approve/", {}),
        ("post", f"{base}/publish/", {}),
        ("post", f"{base}/timeline/", {"at": "2026-01-02T10:00:00Z", "summary": "x"}),
        ("patch", f"{base}/timeline/{entry}/", {"summary": "x"}),
        ("delete", f"{base}/timeline/{entry}/", {}),
        ("post", f"{base}/action-items/", {"title": "x"}),
        ("patch", f"/api/v1/action-items/{item}/", {"status": "done"}),
    ]


@pytest.mark.parametrize(("name", "expected"), [(ANONYMOUS, 401), (OUTSIDER, 403), (VIEWER, 403), (SUPPORT, 403)])
def test_every_write_is_refused_below_commander(persona, postmortem, commander, name, expected):
    entry = postmortem.timeline.first().pk
    item = services.add_action_item(postmortem=postmortem, title="Owned by a commander", owner=commander,
                                     by=commander).pk  # fmt: skip
    before = Postmortem.objects.values().get(pk=postmortem.pk)
    for method, path, body in writes(postmortem.incident.code, entry, item):
        assert send(persona, name, method, path, body).status_code == expected, (method, path)
    assert Postmortem.objects.values().get(pk=postmortem.pk) == before
    assert ActionItem.objects.get(pk=item).status == ActionItem.Status.OPEN


@pytest.mark.parametrize(("name", "expected"), [(ANONYMOUS, 401), (OUTSIDER, 403), (VIEWER, 200), (ADMIN, 200)])
def test_console_users_read_post_mortems_and_action_items(persona, code, name, expected):
    for path in ["/api/v1/postmortems/", f"/api/v1/postmortems/{code}/", "/api/v1/action-items/",
                 f"/api/v1/postmortems/{code}/postmortem.md"]:  # fmt: skip
        assert send(persona, name, "get", path).status_code == expected, path


def test_an_admin_holds_every_commander_right(persona, code):
    assert send(persona, ADMIN, "post", f"/api/v1/postmortems/{code}/submit/").status_code == 200
    assert send(persona, ADMIN, "post", f"/api/v1/postmortems/{code}/approve/").status_code == 200
