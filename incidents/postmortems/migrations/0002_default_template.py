"""The default post-mortem template: the eleven sections of issue 6, in order.

The sections live in the models module, which also makes the template again on a database
that has none (a flushed test database, or an admin who deleted them all).
"""

from django.db import migrations

from incidents.postmortems.models import STANDARD_SECTIONS, STANDARD_TEMPLATE


def create_default_template(apps, schema_editor):
    PostmortemTemplate = apps.get_model("postmortems", "PostmortemTemplate")
    if not PostmortemTemplate.objects.filter(is_default=True).exists():
        PostmortemTemplate.objects.update_or_create(
            name=STANDARD_TEMPLATE, defaults={"sections": STANDARD_SECTIONS, "is_default": True}
        )


def remove_default_template(apps, schema_editor):
    apps.get_model("postmortems", "PostmortemTemplate").objects.filter(name=STANDARD_TEMPLATE).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("postmortems", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(create_default_template, remove_default_template),
    ]
