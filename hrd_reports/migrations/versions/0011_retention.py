"""Retention: the day a report's status last changed, and legal holds.

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN (SQLite has it): no copy of the table, whose expression index a batch
    # copy could not carry over.
    # Unknown for the reports already here: the policy counts from their arrival instead (the
    # query reads a missing day as the day received), never from the upgrade.
    op.add_column("reports", sa.Column("status_on", sa.Date(), nullable=True))
    op.add_column(
        "reports",
        sa.Column("legal_hold", sa.Boolean(), nullable=False, server_default=sa.false()),
    )


def downgrade() -> None:
    op.drop_column("reports", "legal_hold")
    op.drop_column("reports", "status_on")
