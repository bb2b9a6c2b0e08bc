"""Per-language names for topics, and the departments' customer-facing names that the AI Agent kept
in ``AgentSettings.messages["departments"]`` copied into the departments' own per-language fields
(shown in the admin), where the workspace and the widget read them."""

from django.db import migrations, models


def copy_department_names(apps, schema_editor):
    AgentSettings = apps.get_model("agent", "AgentSettings")
    Department = apps.get_model("departments", "Department")
    cfg = AgentSettings.objects.filter(pk=1).first()
    names = ((cfg.messages or {}).get("departments") or {}) if cfg else {}
    for dept in Department.objects.filter(slug__in=list(names)):
        per_language = names.get(dept.slug) or {}
        changed = []
        for code in ("es", "en"):
            value = per_language.get(code)
            if isinstance(value, str) and value.strip() and not getattr(dept, f"name_{code}"):
                setattr(dept, f"name_{code}", value.strip()[:100])
                changed.append(f"name_{code}")
        if changed:
            dept.save(update_fields=changed)


class Migration(migrations.Migration):

    dependencies = [
        ('agent', '0004_triggers'),
        ('departments', '0002_department_names_per_language'),
    ]

    operations = [
        migrations.AddField(
            model_name='topic',
            name='name_en',
            field=models.CharField(blank=True, max_length=120, verbose_name='name in English'),
        ),
        migrations.AddField(
            model_name='topic',
            name='name_es',
            field=models.CharField(blank=True, max_length=120, verbose_name='name in Spanish'),
        ),
        migrations.RunPython(copy_department_names, migrations.RunPython.noop),
    ]
