"""Whether each report follows the report form, learned when it is first opened.

``reports.follows_form`` is learned with ``urgent``; the partial index of the reports nobody
has opened yet now looks for it, so every report received before is opened once more, by the
next listing, and a second partial index serves the count of those that do not follow it.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def _partial_index(name: str, where: sa.ColumnElement[bool]) -> None:
    op.create_index(name, "reports", ["id"], sqlite_where=where, postgresql_where=where)


def upgrade() -> None:
    op.add_column("reports", sa.Column("follows_form", sa.Boolean(), nullable=True))
    op.drop_index("ix_reports_unclassified", table_name="reports")
    _partial_index("ix_reports_unclassified", sa.column("follows_form").is_(None))
    _partial_index("ix_reports_off_form", sa.column("follows_form").is_(False))


def downgrade() -> None:
    op.drop_index("ix_reports_off_form", table_name="reports")
    op.drop_index("ix_reports_unclassified", table_name="reports")
    _partial_index("ix_reports_unclassified", sa.column("urgent").is_(None))
    op.drop_column("reports", "follows_form")
