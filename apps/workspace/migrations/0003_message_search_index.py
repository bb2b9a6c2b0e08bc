"""Full-text search over message text: a GIN index on PostgreSQL, an FTS5 table on SQLite.

The index belongs to the workspace (the search feature), not to the conversations core: it is an
expression index / external-content FTS table over ``conversations_message``, kept in step by the
database itself (triggers on SQLite), so no write path has to remember it.
"""
from django.db import migrations

PG_CREATE = ("CREATE INDEX IF NOT EXISTS ws_msg_body_fts ON conversations_message "
             "USING gin (to_tsvector('simple'::regconfig, body))")
PG_DROP = "DROP INDEX IF EXISTS ws_msg_body_fts"

SQLITE_CREATE = [
    "CREATE VIRTUAL TABLE IF NOT EXISTS workspace_message_fts USING fts5("
    "body, content='conversations_message', content_rowid='id', tokenize='unicode61 remove_diacritics 2')",
    "CREATE TRIGGER IF NOT EXISTS workspace_message_fts_ai AFTER INSERT ON conversations_message BEGIN "
    "INSERT INTO workspace_message_fts(rowid, body) VALUES (new.id, new.body); END",
    "CREATE TRIGGER IF NOT EXISTS workspace_message_fts_ad AFTER DELETE ON conversations_message BEGIN "
    "INSERT INTO workspace_message_fts(workspace_message_fts, rowid, body) VALUES ('delete', old.id, old.body); END",
    "CREATE TRIGGER IF NOT EXISTS workspace_message_fts_au AFTER UPDATE OF body ON conversations_message BEGIN "
    "INSERT INTO workspace_message_fts(workspace_message_fts, rowid, body) VALUES ('delete', old.id, old.body); "
    "INSERT INTO workspace_message_fts(rowid, body) VALUES (new.id, new.body); END",
    "INSERT INTO workspace_message_fts(workspace_message_fts) VALUES ('rebuild')",
]
SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS workspace_message_fts_ai",
    "DROP TRIGGER IF EXISTS workspace_message_fts_ad",
    "DROP TRIGGER IF EXISTS workspace_message_fts_au",
    "DROP TABLE IF EXISTS workspace_message_fts",
]


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        statements = statements_by_vendor.get(schema_editor.connection.vendor, [])
        for sql in [statements] if isinstance(statements, str) else statements:
            schema_editor.execute(sql)
    return run


class Migration(migrations.Migration):

    dependencies = [
        ("workspace", "0002_labels_saved_replies"),
        ("conversations", "0003_queue_indexes"),
    ]

    operations = [
        migrations.RunPython(_run({"postgresql": PG_CREATE, "sqlite": SQLITE_CREATE}),
                             _run({"postgresql": PG_DROP, "sqlite": SQLITE_DROP})),
    ]
