"""shift lifecycle: scheduled times, unassigned shifts, erasures

Revision ID: tasks_0002
Revises: tasks_0001
"""
from alembic import op
import sqlalchemy as sa


revision = 'tasks_0002'
down_revision = 'tasks_0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('tasks_shifts', schema=None) as batch_op:
        batch_op.alter_column('volunteer_id', existing_type=sa.String(length=200), nullable=True)
        batch_op.add_column(sa.Column('scheduled_start', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('scheduled_end', sa.DateTime(timezone=True), nullable=True))

    op.create_table('tasks_erasures',
    sa.Column('volunteer_id', sa.String(length=200), nullable=False),
    sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('volunteer_id')
    )


def downgrade() -> None:
    op.drop_table('tasks_erasures')
    op.execute("DELETE FROM tasks_shifts WHERE volunteer_id IS NULL")
    with op.batch_alter_table('tasks_shifts', schema=None) as batch_op:
        batch_op.drop_column('scheduled_end')
        batch_op.drop_column('scheduled_start')
        batch_op.alter_column('volunteer_id', existing_type=sa.String(length=200), nullable=False)
