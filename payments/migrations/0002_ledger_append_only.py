"""The ledger is append-only in the database itself, not only in code: UPDATE and DELETE of an
entry are refused by triggers (PostgreSQL, for every role including the table owner; SQLite,
the embedded default for trying Fairlabel out: UPDATE, since Django's test flush deletes rows
there). TRUNCATE stays a privilege of the table's owner: production runs the app as a role
that owns no table (README). A correction is a new `adjustment` entry."""

from django.db import migrations

PG_FORWARD = """
CREATE OR REPLACE FUNCTION payments_entry_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the ledger is append-only: % of an entry is refused', TG_OP
        USING ERRCODE = 'integrity_constraint_violation';
END
$$ LANGUAGE plpgsql;
CREATE TRIGGER payments_entry_no_update BEFORE UPDATE OR DELETE ON payments_entry
    FOR EACH ROW EXECUTE FUNCTION payments_entry_append_only();
"""
PG_BACKWARD = """
DROP TRIGGER IF EXISTS payments_entry_no_update ON payments_entry;
DROP FUNCTION IF EXISTS payments_entry_append_only();
"""
SQLITE_FORWARD = [
    """CREATE TRIGGER payments_entry_no_update BEFORE UPDATE ON payments_entry
       BEGIN SELECT RAISE(ABORT, 'the ledger is append-only: UPDATE of an entry is refused'); END""",
]
SQLITE_BACKWARD = [
    "DROP TRIGGER IF EXISTS payments_entry_no_update",
]


def forward(apps, schema_editor):
    # Every chain's head, so that appending never has to create one (it still can).
    ChainHead = apps.get_model("payments", "ChainHead")
    ChainHead.objects.bulk_create([ChainHead(chain=c) for c in range(18)], ignore_conflicts=True)
    connection = schema_editor.connection
    if connection.vendor == "postgresql":
        schema_editor.execute(PG_FORWARD, params=None)
    elif connection.vendor == "sqlite":
        for statement in SQLITE_FORWARD:
            schema_editor.execute(statement, params=None)


def backward(apps, schema_editor):
    connection = schema_editor.connection
    statements = {"postgresql": [PG_BACKWARD], "sqlite": SQLITE_BACKWARD}
    for statement in statements.get(connection.vendor, []):
        schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):
    dependencies = [("payments", "0001_ledger")]
    operations = [migrations.RunPython(forward, backward)]
