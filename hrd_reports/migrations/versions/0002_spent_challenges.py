"""Spent proof-of-work challenges, remembered by coarse window only.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "spent_challenges",
        sa.Column("nonce_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("window", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("nonce_hash", name=op.f("pk_spent_challenges")),
    )
    with op.batch_alter_table("spent_challenges", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_spent_challenges_window"), ["window"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("spent_challenges", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_spent_challenges_window"))
    op.drop_table("spent_challenges")
