"""shift reminders: a consent of their own

Revision ID: appreciation_0004
Revises: appreciation_0003
"""
from alembic import op
import sqlalchemy as sa


revision = 'appreciation_0004'
down_revision = 'appreciation_0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('appreciation_volunteers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('shift_reminder_consent', sa.Boolean(), server_default=sa.true(),
                                      nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('appreciation_volunteers', schema=None) as batch_op:
        batch_op.drop_column('shift_reminder_consent')
