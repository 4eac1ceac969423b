"""The response workflow: operators' moves, role tenures, stages reached, and the notices outbox.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 15:00:25.447553
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

import warning.storage.models
from alembic import op

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('alert_moves',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('alert_id', sa.String(length=40), nullable=False),
    sa.Column('action', sa.String(length=20), nullable=False),
    sa.Column('from_status', sa.String(length=20), nullable=False),
    sa.Column('to_status', sa.String(length=20), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('actor', sa.String(length=200), nullable=False),
    sa.Column('comment', sa.Text(), nullable=True),
    sa.Column('at', warning.storage.models.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['alert_id'], ['alerts.id'], name=op.f('fk_alert_moves_alert_id_alerts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alert_moves'))
    )
    with op.batch_alter_table('alert_moves', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_alert_moves_alert_id'), ['alert_id'], unique=False)

    op.create_table('alert_roles',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('alert_id', sa.String(length=40), nullable=False),
    sa.Column('role', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('assumed_at', warning.storage.models.UtcDateTime(timezone=True), nullable=False),
    sa.Column('assumed_by', sa.String(length=200), nullable=False),
    sa.Column('assume_comment', sa.Text(), nullable=True),
    sa.Column('renounced_at', warning.storage.models.UtcDateTime(timezone=True), nullable=True),
    sa.Column('renounced_by', sa.String(length=200), nullable=True),
    sa.Column('renounce_comment', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['alert_id'], ['alerts.id'], name=op.f('fk_alert_roles_alert_id_alerts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alert_roles'))
    )
    with op.batch_alter_table('alert_roles', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_alert_roles_alert_id_role'), ['alert_id', 'role'], unique=False)

    op.create_table('alert_stages',
    sa.Column('alert_id', sa.String(length=40), nullable=False),
    sa.Column('stage', sa.String(length=40), nullable=False),
    sa.Column('reached_at', warning.storage.models.UtcDateTime(timezone=True), nullable=False),
    sa.Column('owner', sa.String(length=200), nullable=False),
    sa.ForeignKeyConstraint(['alert_id'], ['alerts.id'], name=op.f('fk_alert_stages_alert_id_alerts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('alert_id', 'stage', name=op.f('pk_alert_stages'))
    )
    op.create_table('notices',
    sa.Column('id', sa.String(length=80), nullable=False),
    sa.Column('alert_id', sa.String(length=40), nullable=False),
    sa.Column('type', sa.String(length=40), nullable=False),
    sa.Column('due_at', warning.storage.models.UtcDateTime(timezone=True), nullable=False),
    sa.Column('sent_at', warning.storage.models.UtcDateTime(timezone=True), nullable=True),
    sa.Column('cancelled_at', warning.storage.models.UtcDateTime(timezone=True), nullable=True),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['alert_id'], ['alerts.id'], name=op.f('fk_notices_alert_id_alerts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notices'))
    )
    with op.batch_alter_table('notices', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_notices_alert_id'), ['alert_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_notices_sent_at_cancelled_at_due_at'), ['sent_at', 'cancelled_at', 'due_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('notices', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_notices_sent_at_cancelled_at_due_at'))
        batch_op.drop_index(batch_op.f('ix_notices_alert_id'))

    op.drop_table('notices')
    op.drop_table('alert_stages')
    with op.batch_alter_table('alert_roles', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_alert_roles_alert_id_role'))

    op.drop_table('alert_roles')
    with op.batch_alter_table('alert_moves', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_alert_moves_alert_id'))

    op.drop_table('alert_moves')
