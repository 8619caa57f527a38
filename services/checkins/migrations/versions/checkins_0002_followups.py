"""follow-ups: what started a clock, volunteers, raised rungs

Revision ID: checkins_0002
Revises: checkins_0001
"""
from alembic import op
import sqlalchemy as sa


revision = 'checkins_0002'
down_revision = 'checkins_0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('checkins_clocks', schema=None) as batch_op:
        batch_op.add_column(sa.Column('subject', sa.String(length=300), nullable=True))

    op.create_table('checkins_volunteers',
    sa.Column('volunteer_id', sa.String(length=200), nullable=False),
    sa.Column('coordinator_email', sa.String(length=320), nullable=True),
    sa.Column('registered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_shift_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('erased_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('volunteer_id')
    )
    op.create_table('checkins_raised',
    sa.Column('volunteer_id', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('clock_started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('rung', sa.String(length=20), nullable=False),
    sa.Column('event_id', sa.String(length=100), nullable=False),
    sa.Column('due_since', sa.DateTime(timezone=True), nullable=False),
    sa.Column('raised_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('volunteer_id', 'kind', 'clock_started_at', 'rung')
    )


def downgrade() -> None:
    op.drop_table('checkins_raised')
    op.drop_table('checkins_volunteers')
    with op.batch_alter_table('checkins_clocks', schema=None) as batch_op:
        batch_op.drop_column('subject')
