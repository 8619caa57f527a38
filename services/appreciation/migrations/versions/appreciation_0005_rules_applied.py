"""the digest of the rules last applied to every volunteer

Revision ID: appreciation_0005
Revises: appreciation_0004
"""
from alembic import op
import sqlalchemy as sa



revision = 'appreciation_0005'
down_revision = 'appreciation_0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'appreciation_rules_applied',
        sa.Column('name', sa.String(length=20), nullable=False),
        sa.Column('digest', sa.String(length=64), nullable=False),
        sa.Column('applied_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('name'),
    )


def downgrade() -> None:
    op.drop_table('appreciation_rules_applied')
