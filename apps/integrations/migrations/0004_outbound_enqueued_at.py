"""The outbound sweep knows when a send's task was queued (``enqueued_at``, cleared by the claim)
instead of a fixed ``requeue_after``; ``enqueues`` counts the tasks queued per send."""
from datetime import timedelta

from django.db import migrations, models


def copy_marks(apps, schema_editor):
    Claim = apps.get_model("integrations", "OutboundClaim")
    for pk, after in (Claim.objects.filter(finished_at__isnull=True, requeue_after__isnull=False)
                      .values_list("pk", "requeue_after").iterator()):
        Claim.objects.filter(pk=pk).update(enqueued_at=after - timedelta(seconds=120), enqueues=1)


class Migration(migrations.Migration):

    dependencies = [
        ("integrations", "0003_outbound_outbox"),
    ]

    operations = [
        migrations.AddField(model_name="outboundclaim", name="enqueued_at",
                            field=models.DateTimeField(blank=True, null=True)),
        migrations.AddField(model_name="outboundclaim", name="enqueues",
                            field=models.PositiveIntegerField(default=0)),
        migrations.RunPython(copy_marks, migrations.RunPython.noop),
        migrations.RemoveField(model_name="outboundclaim", name="requeue_after"),
    ]
