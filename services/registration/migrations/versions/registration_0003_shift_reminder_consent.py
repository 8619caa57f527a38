"""shift reminder consent, apart from appreciation mail

Revision ID: registration_0003
Revises: registration_0002
"""
from alembic import op
import sqlalchemy as sa


revision = 'registration_0003'
down_revision = 'registration_0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('registration_volunteers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('shift_reminder_consent', sa.Boolean(), server_default=sa.true(),
                                      nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('registration_volunteers', schema=None) as batch_op:
        batch_op.drop_column('shift_reminder_consent')
