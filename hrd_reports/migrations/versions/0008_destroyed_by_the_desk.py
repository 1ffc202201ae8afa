"""Tombstones that tell a report its reporter withdrew from one a key holder destroyed.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Every tombstone so far is of a withdrawal.
    op.add_column(
        "withdrawn_reports",
        sa.Column(
            "destroyed_by",
            sa.Enum("reporter", "desk", name="destroyer", native_enum=False, length=32),
            nullable=False,
            server_default="reporter",
        ),
    )


def downgrade() -> None:
    op.drop_column("withdrawn_reports", "destroyed_by")
