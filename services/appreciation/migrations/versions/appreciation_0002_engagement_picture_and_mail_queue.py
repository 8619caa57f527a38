"""engagement picture and mail queue

Revision ID: appreciation_0002
Revises: appreciation_0001
Create Date: 2026-11-27 23:40:39.052812
"""
from alembic import op
import sqlalchemy as sa


revision = 'appreciation_0002'
down_revision = 'appreciation_0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('appreciation_mails',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('volunteer_id', sa.String(length=200), nullable=False),
    sa.Column('occasion', sa.String(length=150), nullable=False),
    sa.Column('notification', sa.String(length=50), nullable=False),
    sa.Column('audience', sa.String(length=20), nullable=False),
    sa.Column('context', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_error', sa.String(length=500), nullable=True),
    sa.Column('recipient', sa.String(length=320), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('volunteer_id', 'occasion', 'notification', name='appreciation_mails_once')
    )
    with op.batch_alter_table('appreciation_mails', schema=None) as batch_op:
        batch_op.create_index('appreciation_mails_due', ['status', 'next_attempt_at'], unique=False)

    with op.batch_alter_table('appreciation_volunteers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('consent', sa.Boolean(), server_default='1', nullable=False))
        batch_op.add_column(sa.Column('unsubscribed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('active', sa.Boolean(), server_default='1', nullable=False))
        batch_op.add_column(sa.Column('shift_count', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('hours', sa.Float(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('first_shift_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('last_activity_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('missed_in_a_row', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('next_sweep_on', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('erased_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.alter_column('language', existing_type=sa.String(length=2), server_default='nl')
        batch_op.alter_column('name',
               existing_type=sa.String(length=200),
               nullable=True)
        batch_op.alter_column('email',
               existing_type=sa.String(length=320),
               nullable=True)
        batch_op.alter_column('service_started_on',
               existing_type=sa.Date(),
               nullable=True)
        batch_op.alter_column('registered_at',
               existing_type=sa.DateTime(timezone=True),
               nullable=True)
        batch_op.create_index('appreciation_volunteers_next_sweep', ['next_sweep_on'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('appreciation_volunteers', schema=None) as batch_op:
        batch_op.drop_index('appreciation_volunteers_next_sweep')
        batch_op.alter_column('registered_at',
               existing_type=sa.DateTime(timezone=True),
               nullable=False)
        batch_op.alter_column('service_started_on',
               existing_type=sa.Date(),
               nullable=False)
        batch_op.alter_column('email',
               existing_type=sa.String(length=320),
               nullable=False)
        batch_op.alter_column('name',
               existing_type=sa.String(length=200),
               nullable=False)
        batch_op.drop_column('erased_at')
        batch_op.drop_column('next_sweep_on')
        batch_op.drop_column('missed_in_a_row')
        batch_op.drop_column('last_activity_at')
        batch_op.drop_column('first_shift_at')
        batch_op.drop_column('hours')
        batch_op.drop_column('shift_count')
        batch_op.drop_column('active')
        batch_op.drop_column('unsubscribed_at')
        batch_op.drop_column('consent')

    with op.batch_alter_table('appreciation_mails', schema=None) as batch_op:
        batch_op.drop_index('appreciation_mails_due')

    op.drop_table('appreciation_mails')
