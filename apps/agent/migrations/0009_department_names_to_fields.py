# Department names per language move from the AI Agent's messages ("departments": {slug: {es: ...}})
# to the departments' own per-language fields, the one place pages and customer messages read them
# from (apps.departments.names.localized_name). A field an Operator already filled in the admin wins.

from django.db import migrations

LANGUAGES = ("es", "en")


def to_fields(apps, schema_editor):
    AgentSettings = apps.get_model("agent", "AgentSettings")
    Department = apps.get_model("departments", "Department")
    for cfg in AgentSettings.objects.all():
        messages = dict(cfg.messages or {})
        names = messages.pop("departments", None)
        if not isinstance(names, dict):
            continue
        for slug, per_language in names.items():
            department = Department.objects.filter(slug=slug).first()
            if department is None or not isinstance(per_language, dict):
                continue
            changed = []
            for code in LANGUAGES:
                value = per_language.get(code)
                if isinstance(value, str) and value.strip() and not (getattr(department, f"name_{code}") or "").strip():
                    setattr(department, f"name_{code}", value.strip()[:100])
                    changed.append(f"name_{code}")
            if changed:
                department.save(update_fields=changed)
        cfg.messages = messages
        cfg.save(update_fields=["messages"])


def to_messages(apps, schema_editor):
    AgentSettings = apps.get_model("agent", "AgentSettings")
    Department = apps.get_model("departments", "Department")
    names = {d.slug: {code: getattr(d, f"name_{code}") for code in LANGUAGES if getattr(d, f"name_{code}")}
             for d in Department.objects.all()}
    names = {slug: per_language for slug, per_language in names.items() if per_language}
    for cfg in AgentSettings.objects.all():
        if names:
            cfg.messages = {**(cfg.messages or {}), "departments": names}
            cfg.save(update_fields=["messages"])


class Migration(migrations.Migration):

    dependencies = [
        ("agent", "0008_calibrated_answer_confidence"),
        ("departments", "0002_department_names_per_language"),
    ]

    operations = [
        migrations.RunPython(to_fields, to_messages),
    ]
