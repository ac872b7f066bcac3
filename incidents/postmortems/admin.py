"""Admin pages of post-mortems: the template to edit; post-mortems and action items to read."""

from __future__ import annotations

from django.contrib import admin

from engine.admin import ReadOnlyAdmin
from incidents.postmortems.models import ActionItem, Postmortem, PostmortemSection, PostmortemTemplate


@admin.register(PostmortemTemplate)
class PostmortemTemplateAdmin(admin.ModelAdmin):
    """The sections new post-mortems start with (the admin site is open to the admin role only)."""

    list_display = ["name", "is_default", "updated_at"]
    fields = ["name", "is_default", "sections"]


class SectionInline(admin.StackedInline):
    model = PostmortemSection
    fields = ["title", "body"]
    readonly_fields = fields
    extra = 0
    can_delete = False


@admin.register(Postmortem)
class PostmortemAdmin(ReadOnlyAdmin):
    """Post-mortems are written in the console, where the workflow and its audit live."""

    list_display = ["incident", "status", "author", "approved_by", "created_at", "published_at"]
    list_filter = ["status"]
    search_fields = ["incident__code", "incident__title"]
    inlines = [SectionInline]


@admin.register(ActionItem)
class ActionItemAdmin(ReadOnlyAdmin):
    list_display = ["title", "postmortem", "owner", "due_on", "priority", "status", "reminded_at"]
    list_filter = ["status", "priority"]
    search_fields = ["title", "postmortem__incident__code"]
