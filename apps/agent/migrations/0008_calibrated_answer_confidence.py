# The answer confidence is now the verifier's calibrated probability (Platt scaling fitted on
# businesses the model had not seen) and the threshold the expected-utility rule on it (a wrong answer
# costs 3 needless handoffs: 0.75). Rows still on the former raw-score default move to the new one.

from django.db import migrations, models


def to_calibrated(apps, schema_editor):
    AgentSettings = apps.get_model("agent", "AgentSettings")
    AgentSettings.objects.filter(confidence_threshold=0.845763).update(confidence_threshold=0.75)


def to_raw(apps, schema_editor):
    AgentSettings = apps.get_model("agent", "AgentSettings")
    AgentSettings.objects.filter(confidence_threshold=0.75).update(confidence_threshold=0.845763)


class Migration(migrations.Migration):

    dependencies = [
        ("agent", "0007_answer_ranker_threshold"),
    ]

    operations = [
        migrations.AlterField(
            model_name="agentsettings",
            name="confidence_threshold",
            field=models.FloatField(default=0.75, help_text="Calibrated probability that the answer holds what was asked; below it the AI Agent does not answer and hands off (trigger low_confidence).", verbose_name="minimum answer confidence"),
        ),
        migrations.RunPython(to_calibrated, to_raw),
    ]
