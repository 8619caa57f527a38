"""volunteer profiles and consent, opportunities, applications, erasures

Revision ID: registration_0002
Revises: registration_0001
Create Date: 2026-11-27 23:55:00
"""
from alembic import op
import sqlalchemy as sa


revision = 'registration_0002'
down_revision = 'registration_0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('registration_volunteers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('interests', sa.JSON(), server_default='[]', nullable=False))
        batch_op.add_column(sa.Column('skills', sa.JSON(), server_default='[]', nullable=False))
        batch_op.add_column(sa.Column('availability', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('appreciation_mail_consent', sa.Boolean(), server_default=sa.true(),
                                      nullable=False))
        batch_op.add_column(sa.Column('named_in_group_messages_consent', sa.Boolean(), server_default=sa.false(),
                                      nullable=False))
        batch_op.add_column(sa.Column('active', sa.Boolean(), server_default=sa.true(), nullable=False))
        batch_op.add_column(sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True))

    op.create_table('registration_opportunities',
    sa.Column('opportunity_id', sa.String(length=200), nullable=False),
    sa.Column('organisation', sa.String(length=200), nullable=True),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('summary', sa.Text(), nullable=True),
    sa.Column('tasks', sa.JSON(), nullable=False),
    sa.Column('minutes_per_occurrence', sa.Integer(), nullable=False),
    sa.Column('how_often', sa.String(length=200), nullable=True),
    sa.Column('schedule', sa.String(length=20), nullable=False),
    sa.Column('when', sa.JSON(), nullable=False),
    sa.Column('skills', sa.JSON(), nullable=False),
    sa.Column('interests', sa.JSON(), nullable=False),
    sa.Column('guidance', sa.Text(), nullable=False),
    sa.Column('onboarding_minutes', sa.Integer(), nullable=False),
    sa.Column('contact_name', sa.String(length=200), nullable=False),
    sa.Column('contact_email', sa.String(length=320), nullable=False),
    sa.Column('is_open', sa.Boolean(), nullable=False),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('opportunity_id')
    )
    op.create_table('registration_applications',
    sa.Column('application_id', sa.String(length=200), nullable=False),
    sa.Column('volunteer_id', sa.String(length=200), nullable=False),
    sa.Column('opportunity_id', sa.String(length=200), nullable=True),
    sa.Column('offered_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('application_id')
    )
    with op.batch_alter_table('registration_applications', schema=None) as batch_op:
        batch_op.create_index('registration_applications_by_volunteer', ['volunteer_id'], unique=False)

    op.create_table('registration_erasures',
    sa.Column('volunteer_id', sa.String(length=200), nullable=False),
    sa.Column('erased_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('volunteer_id')
    )


def downgrade() -> None:
    op.drop_table('registration_erasures')
    with op.batch_alter_table('registration_applications', schema=None) as batch_op:
        batch_op.drop_index('registration_applications_by_volunteer')
    op.drop_table('registration_applications')
    op.drop_table('registration_opportunities')
    with op.batch_alter_table('registration_volunteers', schema=None) as batch_op:
        batch_op.drop_column('updated_at')
        batch_op.drop_column('active')
        batch_op.drop_column('named_in_group_messages_consent')
        batch_op.drop_column('appreciation_mail_consent')
        batch_op.drop_column('availability')
        batch_op.drop_column('skills')
        batch_op.drop_column('interests')
