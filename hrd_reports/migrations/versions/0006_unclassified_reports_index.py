"""A partial index of the reports nobody has opened yet, which every listing looks for first.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    unclassified = sa.column("urgent").is_(None)
    op.create_index(
        "ix_reports_unclassified",
        "reports",
        ["id"],
        sqlite_where=unclassified,
        postgresql_where=unclassified,
    )


def downgrade() -> None:
    op.drop_index("ix_reports_unclassified", table_name="reports")
