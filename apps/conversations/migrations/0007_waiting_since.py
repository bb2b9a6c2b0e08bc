# Since when the customer has been waiting for a person: kept across a requeue (``queued_at`` is
# reset by it, because it keys the pick-up timer). Filled for open chats from ``queued_at``.

from django.db import migrations, models
from django.db.models import F, Q


def fill(apps, schema_editor):
    """Open chats waiting for a person since they entered the queue: queued (or in transfer), or
    assigned with no human reply yet. Chats a person already answered start clean (the next
    customer message sets it)."""
    Conversation = apps.get_model("conversations", "Conversation")
    waiting = Q(status__in=["transfer", "unassigned"]) | Q(status__in=["assigned", "in_progress"],
                                                            first_human_reply_at__isnull=True)
    Conversation.objects.filter(waiting, queued_at__isnull=False).update(waiting_since=F("queued_at"))


class Migration(migrations.Migration):

    dependencies = [
        ('conversations', '0006_archived_list_order'),
    ]

    operations = [
        migrations.AddField(
            model_name='conversation',
            name='waiting_since',
            field=models.DateTimeField(blank=True, editable=False, null=True, verbose_name='waiting for a person since'),
        ),
        migrations.RunPython(fill, migrations.RunPython.noop),
    ]
