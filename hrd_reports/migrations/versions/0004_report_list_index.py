"""An index in the dashboard's list order, so a page is read from it rather than sorted.

Revision ID: 0004
Revises: 0003
"""

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def _list_order() -> list[sa.UnaryExpression[Any]]:
    # The same expressions as models.REPORT_LIST_ORDER (a migration does not import models,
    # which change after it): urgent or unknown first, then newest.
    return [
        sa.column("urgent").is_not(sa.false()).self_group().desc(),
        sa.column("received_on").desc(),
        sa.column("id").desc(),
    ]


def upgrade() -> None:
    op.create_index("ix_reports_list_order", "reports", _list_order())


def downgrade() -> None:
    op.drop_index("ix_reports_list_order", table_name="reports")
