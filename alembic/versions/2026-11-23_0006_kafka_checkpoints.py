"""Kafka ingest: per-partition checkpoints and the offsets they cover.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 16:00:00
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

import warning.storage.models
from alembic import op

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('kafka_checkpoints',
    sa.Column('topic', sa.String(length=249), nullable=False),
    sa.Column('partition', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('next_offset', sa.BigInteger(), nullable=True),
    sa.Column('epoch', sa.Integer(), nullable=False),
    sa.Column('updated_at', warning.storage.models.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('topic', 'partition', name=op.f('pk_kafka_checkpoints'))
    )
    op.create_table('kafka_series_states',
    sa.Column('topic', sa.String(length=249), nullable=False),
    sa.Column('partition', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('signal', sa.String(length=200), nullable=False),
    sa.Column('entity', sa.String(length=200), nullable=False),
    sa.Column('state', sa.LargeBinary(), nullable=False),
    sa.Column('updated_at', warning.storage.models.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('topic', 'partition', 'signal', 'entity', name=op.f('pk_kafka_series_states'))
    )


def downgrade() -> None:
    op.drop_table('kafka_series_states')
    op.drop_table('kafka_checkpoints')
