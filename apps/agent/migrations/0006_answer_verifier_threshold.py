# The confidence is now the learned answer verifier's probability (apps/agent/answer_verifier.json);
# its threshold ships as the default. Rows still on the former hand-set default move to the new one.

from django.db import migrations, models


def to_verifier_threshold(apps, schema_editor):
    AgentSettings = apps.get_model("agent", "AgentSettings")
    AgentSettings.objects.filter(confidence_threshold=0.9755).update(confidence_threshold=0.852896)


def to_hand_set_threshold(apps, schema_editor):
    AgentSettings = apps.get_model("agent", "AgentSettings")
    AgentSettings.objects.filter(confidence_threshold=0.852896).update(confidence_threshold=0.9755)


class Migration(migrations.Migration):

    dependencies = [
        ("agent", "0005_topic_names_per_language"),
    ]

    operations = [
        migrations.AlterField(
            model_name="agentsettings",
            name="confidence_threshold",
            field=models.FloatField(default=0.852896, help_text="Below this the AI Agent does not answer and hands off (trigger low_confidence).", verbose_name="minimum answer confidence"),
        ),
        migrations.RunPython(to_verifier_threshold, to_hand_set_threshold),
    ]
