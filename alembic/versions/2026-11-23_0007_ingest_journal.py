"""Live ingest: a journal of accepted batches between checkpoints of series state.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 19:00:00
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

import warning.storage.models
from alembic import op

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('ingest_journal',
    sa.Column('seq', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('events', sa.LargeBinary(), nullable=False),
    sa.Column('recorded_at', warning.storage.models.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('seq', name=op.f('pk_ingest_journal'))
    )


def downgrade() -> None:
    op.drop_table('ingest_journal')
