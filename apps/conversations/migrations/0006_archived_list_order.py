from django.db import migrations


class Migration(migrations.Migration):
    """conv_archived_by (assignee, archived_at DESC) is replaced by workspace 0004's index in the
    archived list's exact order (assignee, archived_at DESC NULLS LAST, id DESC): the old one could
    not give that order on PostgreSQL (DESC is NULLS FIRST there), so every page sorted the whole
    history of the user."""

    dependencies = [
        ("conversations", "0005_one_open_conversation"),
    ]

    operations = [
        migrations.RemoveIndex(model_name="conversation", name="conv_archived_by"),
    ]
