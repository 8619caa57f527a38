"""console upcoming milestones

Revision ID: console_0003
Revises: console_0002
Create Date: 2026-12-08 10:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = 'console_0003'
down_revision = 'console_0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('console_upcoming',
    sa.Column('volunteer_id', sa.String(length=200), nullable=False),
    sa.Column('measure', sa.String(length=20), nullable=False),
    sa.Column('milestone', sa.String(length=100), nullable=False),
    sa.Column('threshold', sa.Integer(), nullable=False),
    sa.Column('value', sa.Float(), nullable=False),
    sa.Column('expected_on', sa.Date(), nullable=True),
    sa.Column('sends', sa.JSON(), nullable=False),
    sa.Column('announced_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('volunteer_id', 'measure')
    )
    with op.batch_alter_table('console_upcoming', schema=None) as batch_op:
        batch_op.create_index('console_upcoming_due', ['measure', 'expected_on'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('console_upcoming', schema=None) as batch_op:
        batch_op.drop_index('console_upcoming_due')

    op.drop_table('console_upcoming')
