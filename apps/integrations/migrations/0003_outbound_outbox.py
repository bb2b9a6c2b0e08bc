"""OutboundClaim becomes the outbox of outgoing sends: an idempotency key per message, the time
the provider was last called (a crash after it leaves the send "in doubt"), the last error, and
rows that nobody claimed yet (``claimed_until`` null), swept by beat."""
import uuid

import django.utils.timezone
from django.db import migrations, models

import apps.integrations.models


def fill_keys(apps, schema_editor):
    Claim = apps.get_model("integrations", "OutboundClaim")
    for pk in Claim.objects.filter(idempotency_key__isnull=True).values_list("pk", flat=True).iterator():
        Claim.objects.filter(pk=pk).update(idempotency_key=uuid.uuid4().hex)


class Migration(migrations.Migration):

    dependencies = [
        ("integrations", "0002_inbound_lease_outbound_claim"),
    ]

    operations = [
        migrations.AddField(model_name="outboundclaim", name="idempotency_key",
                            field=models.CharField(max_length=64, null=True, editable=False)),
        migrations.RunPython(fill_keys, migrations.RunPython.noop),
        migrations.AlterField(model_name="outboundclaim", name="idempotency_key",
                              field=models.CharField(default=apps.integrations.models._new_key, editable=False,
                                                     max_length=64, unique=True)),
        migrations.AddField(model_name="outboundclaim", name="created_at",
                            field=models.DateTimeField(default=django.utils.timezone.now)),
        migrations.AddField(model_name="outboundclaim", name="provider_called_at",
                            field=models.DateTimeField(blank=True, null=True)),
        migrations.AddField(model_name="outboundclaim", name="last_error",
                            field=models.CharField(blank=True, max_length=500)),
        migrations.AddField(model_name="outboundclaim", name="requeue_after",
                            field=models.DateTimeField(blank=True, null=True)),
        migrations.AlterField(model_name="outboundclaim", name="claimed_until",
                              field=models.DateTimeField(blank=True, null=True)),
        migrations.AlterField(model_name="outboundclaim", name="attempts",
                              field=models.PositiveSmallIntegerField(default=0)),
        migrations.AddIndex(model_name="outboundclaim",
                            index=models.Index(condition=models.Q(("finished_at__isnull", True)),
                                               fields=["claimed_until"], name="outbound_unfinished")),
    ]
