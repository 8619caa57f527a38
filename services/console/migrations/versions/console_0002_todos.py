"""console to-dos

Revision ID: console_0002
Revises: console_0001
Create Date: 2026-12-01 10:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = 'console_0002'
down_revision = 'console_0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('console_todos',
    sa.Column('volunteer_id', sa.String(length=200), nullable=False),
    sa.Column('todo_id', sa.String(length=200), nullable=False),
    sa.Column('action', sa.String(length=50), nullable=False),
    sa.Column('milestone', sa.String(length=100), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('lunch_on', sa.Date(), nullable=True),
    sa.Column('opened_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('snoozed_until', sa.Date(), nullable=True),
    sa.Column('done_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('done_by', sa.String(length=200), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('escalated_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('volunteer_id', 'todo_id')
    )
    with op.batch_alter_table('console_todos', schema=None) as batch_op:
        batch_op.create_index('console_todos_open', ['status', 'due_on'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('console_todos', schema=None) as batch_op:
        batch_op.drop_index('console_todos_open')

    op.drop_table('console_todos')
