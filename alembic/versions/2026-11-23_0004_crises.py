"""Crises: operator-set crisis types and post-mortem reviews.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 16:00:00
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

import warning.storage.models
from alembic import op

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('crisis_types',
    sa.Column('crisis_id', sa.String(length=40), nullable=False),
    sa.Column('crisis_type', sa.String(length=40), nullable=False),
    sa.Column('set_by', sa.String(length=200), nullable=False),
    sa.Column('set_at', warning.storage.models.UtcDateTime(timezone=True), nullable=False),
    sa.Column('comment', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('crisis_id', name=op.f('pk_crisis_types'))
    )
    op.create_table('crisis_reviews',
    sa.Column('crisis_id', sa.String(length=40), nullable=False),
    sa.Column('alert_ids', sa.JSON(), nullable=False),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('root_cause', sa.Text(), nullable=False),
    sa.Column('crisis_type', sa.String(length=40), nullable=False),
    sa.Column('impact', sa.JSON(), nullable=False),
    sa.Column('remedies', sa.JSON(), nullable=False),
    sa.Column('lessons', sa.JSON(), nullable=False),
    sa.Column('movement', sa.JSON(), nullable=False),
    sa.Column('reviewed_by', sa.String(length=200), nullable=False),
    sa.Column('reviewed_at', warning.storage.models.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('crisis_id', name=op.f('pk_crisis_reviews'))
    )


def downgrade() -> None:
    op.drop_table('crisis_reviews')
    op.drop_table('crisis_types')
