"""room for in-place updates of volunteer rows

Every counted shift updates its volunteer's row, never an indexed column. With
free space on the page PostgreSQL updates such a row in place (a HOT update) and
touches no index; a table filled to the brim (a bulk import) gets none.

Revision ID: appreciation_0003
Revises: appreciation_0002
Create Date: 2026-11-28 02:55:00
"""
from alembic import op


revision = 'appreciation_0003'
down_revision = 'appreciation_0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE appreciation_volunteers SET (fillfactor = 80)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE appreciation_volunteers RESET (fillfactor)")
