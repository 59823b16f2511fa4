"""incidents.respond_by, responded_at, responded_by, response_alerted_at: the department's
first answer (INCIDENT_FIRST_RESPONSE)

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MOMENTS = ("respond_by", "responded_at", "response_alerted_at")


def upgrade() -> None:
    with op.batch_alter_table("incidents") as batch:
        for name in MOMENTS:
            batch.add_column(
                sa.Column(name, storage.types.UTCDateTime(timezone=True), nullable=True)
            )
        batch.add_column(sa.Column("responded_by", sa.String(length=64), nullable=True))
    op.create_index("ix_incidents_respond_by", "incidents", ["respond_by"])


def downgrade() -> None:
    op.drop_index("ix_incidents_respond_by", table_name="incidents")
    with op.batch_alter_table("incidents") as batch:
        batch.drop_column("responded_by")
        for name in reversed(MOMENTS):
            batch.drop_column(name)
