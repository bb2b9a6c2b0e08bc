"""The "Longest waiting" index follows ``inbox._waiting_since()``, which now reads
``Conversation.waiting_since`` first (conversations migration 0007): the expression index of
workspace 0005 no longer matched it, and the planner silently went back to sorting every open chat
a Collaborator may see (EXPLAIN ANALYZE at 1,000,000 conversations: 6.8 ms and 7,215 buffers instead
of 0.27 ms and 68). Same columns and order, the new expression; the old index is dropped.

The indexed expression must stay the one ``_waiting_since`` compiles to; change both together
(``tests/workspace/test_list_plan.py`` checks the plan on PostgreSQL).
"""
from django.db import migrations

HUMAN = "('transfer', 'unassigned', 'assigned', 'in_progress')"
WAITING = ("CASE WHEN (status IN ('transfer', 'unassigned', 'assigned', 'in_progress') AND waiting_since IS NOT NULL) "
           "THEN waiting_since "
           "WHEN status = 'unassigned' THEN queued_at "
           "WHEN (last_customer_message_at >= last_message_at AND status IN ('transfer', 'assigned', 'in_progress')) "
           "THEN last_customer_message_at ELSE NULL END")
OLD = ("CASE WHEN status = 'unassigned' THEN queued_at "
       "WHEN (last_customer_message_at >= last_message_at AND status IN ('transfer', 'assigned', 'in_progress')) "
       "THEN last_customer_message_at ELSE NULL END")
FORWARD = [
    f"CREATE INDEX IF NOT EXISTS ws_conv_open_waiting2 ON conversations_conversation "
    f"(({WAITING}) ASC NULLS LAST, last_message_at DESC NULLS LAST, id DESC) WHERE status IN {HUMAN}",
    "DROP INDEX IF EXISTS ws_conv_open_waiting",
]
BACKWARD = [
    f"CREATE INDEX IF NOT EXISTS ws_conv_open_waiting ON conversations_conversation "
    f"(({OLD}) ASC NULLS LAST, last_message_at DESC NULLS LAST, id DESC) WHERE status IN {HUMAN}",
    "DROP INDEX IF EXISTS ws_conv_open_waiting2",
]


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        for sql in statements_by_vendor.get(schema_editor.connection.vendor, []):
            schema_editor.execute(sql)
    return run


class Migration(migrations.Migration):

    dependencies = [
        ("workspace", "0006_label_is_open"),
        ("conversations", "0007_waiting_since"),
    ]

    operations = [
        migrations.RunPython(_run({"postgresql": FORWARD}), _run({"postgresql": BACKWARD})),
    ]
