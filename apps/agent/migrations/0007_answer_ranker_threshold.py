# The answer now carries up to two supplementary units of the same document chosen by the learned
# answer ranker (apps/agent/answer_ranker.json), and the answer verifier was refitted on that
# selection: its threshold ships as the default. Rows still on the former default move to the new one.

from django.db import migrations, models


def to_new_threshold(apps, schema_editor):
    AgentSettings = apps.get_model("agent", "AgentSettings")
    AgentSettings.objects.filter(confidence_threshold=0.852896).update(confidence_threshold=0.845763)


def to_former_threshold(apps, schema_editor):
    AgentSettings = apps.get_model("agent", "AgentSettings")
    AgentSettings.objects.filter(confidence_threshold=0.845763).update(confidence_threshold=0.852896)


class Migration(migrations.Migration):

    dependencies = [
        ("agent", "0006_answer_verifier_threshold"),
    ]

    operations = [
        migrations.AlterField(
            model_name="agentsettings",
            name="confidence_threshold",
            field=models.FloatField(default=0.845763, help_text="Below this the AI Agent does not answer and hands off (trigger low_confidence).", verbose_name="minimum answer confidence"),
        ),
        migrations.RunPython(to_new_threshold, to_former_threshold),
    ]
