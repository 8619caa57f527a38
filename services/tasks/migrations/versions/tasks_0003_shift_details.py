"""shift details for reminders: place, contact, what to bring

Revision ID: tasks_0003
Revises: tasks_0002
"""
from alembic import op
import sqlalchemy as sa


revision = 'tasks_0003'
down_revision = 'tasks_0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('tasks_shifts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('place', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('contact', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('bring', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('tasks_shifts', schema=None) as batch_op:
        batch_op.drop_column('bring')
        batch_op.drop_column('contact')
        batch_op.drop_column('place')
