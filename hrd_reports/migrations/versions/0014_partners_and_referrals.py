"""Partner organisations and their public keys, and the referrals of reports to them.

The reporter's new stage ("referred") needs no change of type: stages are stored as plain
strings (``native_enum=False``, no CHECK constraint), on PostgreSQL as on SQLite.

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "partners",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column(
            "kind",
            sa.Enum("age", "openpgp", name="partner_key_kind", native_enum=False, length=32),
            nullable=False,
        ),
        sa.Column("public_key", sa.String(), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("algorithm", sa.String(length=100), nullable=False),
        sa.Column("post_quantum", sa.Boolean(), nullable=False),
        sa.Column("key_binding", sa.LargeBinary(length=32), nullable=False),
        sa.Column("added_on", sa.Date(), nullable=False),
        sa.Column("added_by", sa.String(length=64), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.PrimaryKeyConstraint("id", name="pk_partners"),
        sa.UniqueConstraint("public_id", name="uq_partners_public_id"),
        sa.UniqueConstraint("name", name="uq_partners_name"),
    )
    op.create_table(
        "referrals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.Uuid(), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("referred_on", sa.Date(), nullable=False),
        sa.Column("referred_by", sa.String(length=64), nullable=False),
        sa.Column("fields", sa.String(length=2000), nullable=False),
        sa.Column("reporter_told", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["reports.id"],
            name="fk_referrals_report_id_reports",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["partners.id"], name="fk_referrals_partner_id_partners"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_referrals"),
        sa.UniqueConstraint("public_id", name="uq_referrals_public_id"),
    )
    op.create_index("ix_referrals_report_id", "referrals", ["report_id"])
    op.create_index("ix_referrals_partner_id", "referrals", ["partner_id"])


def downgrade() -> None:
    op.drop_table("referrals")
    op.drop_table("partners")
