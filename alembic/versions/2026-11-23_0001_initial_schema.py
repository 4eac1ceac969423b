"""Initial schema: alerts and their history, dead letters, closed buckets, series snapshots, seen ids.

Revision ID: 0001
Revises: 
Create Date: 2026-11-23 13:39:59.681795
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
import warning.storage.models


revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('alerts',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('rule', sa.String(length=200), nullable=False),
    sa.Column('signal', sa.String(length=200), nullable=False),
    sa.Column('entity', sa.String(length=200), nullable=False),
    sa.Column('severity', sa.String(length=10), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('raised_at', warning.storage.models.UtcDateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', warning.storage.models.UtcDateTime(timezone=True), nullable=False),
    sa.Column('response_due_at', warning.storage.models.UtcDateTime(timezone=True), nullable=False),
    sa.Column('cleared_at', warning.storage.models.UtcDateTime(timezone=True), nullable=True),
    sa.Column('resolved_at', warning.storage.models.UtcDateTime(timezone=True), nullable=True),
    sa.Column('crisis_type', sa.String(length=40), nullable=True),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('evidence', sa.JSON(), nullable=False),
    sa.Column('strength', sa.Float(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('updated_at', warning.storage.models.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alerts'))
    )
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_alerts_entity_raised_at'), ['entity', 'raised_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_alerts_raised_at_id'), ['raised_at', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_alerts_status_raised_at'), ['status', 'raised_at'], unique=False)

    op.create_table('buckets',
    sa.Column('signal', sa.String(length=200), nullable=False),
    sa.Column('entity', sa.String(length=200), nullable=False),
    sa.Column('start', warning.storage.models.UtcDateTime(timezone=True), nullable=False),
    sa.Column('end', warning.storage.models.UtcDateTime(timezone=True), nullable=False),
    sa.Column('value', sa.Float(), nullable=True),
    sa.Column('weight', sa.Float(), nullable=False),
    sa.Column('total', sa.Float(), nullable=True),
    sa.PrimaryKeyConstraint('signal', 'entity', 'start', name=op.f('pk_buckets'))
    )
    with op.batch_alter_table('buckets', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_buckets_start'), ['start'], unique=False)

    op.create_table('dead_letters',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('source', sa.String(length=400), nullable=False),
    sa.Column('raw', sa.Text(), nullable=False),
    sa.Column('received_at', warning.storage.models.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dead_letters'))
    )
    with op.batch_alter_table('dead_letters', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dead_letters_received_at'), ['received_at'], unique=False)

    op.create_table('seen_event_ids',
    sa.Column('id', sa.String(length=200), nullable=False),
    sa.Column('seen_at', warning.storage.models.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_seen_event_ids'))
    )
    with op.batch_alter_table('seen_event_ids', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_seen_event_ids_seen_at'), ['seen_at'], unique=False)

    op.create_table('series_snapshots',
    sa.Column('signal', sa.String(length=200), nullable=False),
    sa.Column('entity', sa.String(length=200), nullable=False),
    sa.Column('state', sa.LargeBinary(), nullable=False),
    sa.Column('updated_at', warning.storage.models.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('signal', 'entity', name=op.f('pk_series_snapshots'))
    )
    op.create_table('alert_history',
    sa.Column('alert_id', sa.String(length=40), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('reason', sa.String(length=40), nullable=False),
    sa.Column('at', warning.storage.models.UtcDateTime(timezone=True), nullable=False),
    sa.Column('severity', sa.String(length=10), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('evidence', sa.JSON(), nullable=False),
    sa.Column('recorded_at', warning.storage.models.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['alert_id'], ['alerts.id'], name=op.f('fk_alert_history_alert_id_alerts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('alert_id', 'version', name=op.f('pk_alert_history'))
    )


def downgrade() -> None:
    op.drop_table('alert_history')
    op.drop_table('series_snapshots')
    with op.batch_alter_table('seen_event_ids', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_seen_event_ids_seen_at'))

    op.drop_table('seen_event_ids')
    with op.batch_alter_table('dead_letters', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_dead_letters_received_at'))

    op.drop_table('dead_letters')
    with op.batch_alter_table('buckets', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_buckets_start'))

    op.drop_table('buckets')
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_alerts_status_raised_at'))
        batch_op.drop_index(batch_op.f('ix_alerts_raised_at_id'))
        batch_op.drop_index(batch_op.f('ix_alerts_entity_raised_at'))

    op.drop_table('alerts')
