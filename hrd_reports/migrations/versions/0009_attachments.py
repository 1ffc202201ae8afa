"""Evidence files: uploads and their encrypted chunks.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "attachments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.Uuid(), nullable=False),
        sa.Column("bound_report", sa.Uuid(), nullable=False),
        sa.Column("bound_message", sa.Uuid(), nullable=True),
        sa.Column("chunks", sa.Integer(), nullable=False),
        sa.Column("stored_size", sa.BigInteger(), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=True),
        sa.Column("message_id", sa.Integer(), nullable=True),
        sa.Column("position", sa.Integer(), nullable=True),
        sa.Column("record", sa.LargeBinary(), nullable=True),
        sa.Column("expires_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["reports.id"],
            name="fk_attachments_report_id_reports",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["report_messages.id"],
            name="fk_attachments_message_id_report_messages",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_attachments"),
        sa.UniqueConstraint("public_id", name="uq_attachments_public_id"),
    )
    op.create_index("ix_attachments_bound_report", "attachments", ["bound_report"])
    op.create_index("ix_attachments_report_id", "attachments", ["report_id"])
    op.create_index("ix_attachments_message_id", "attachments", ["message_id"])
    op.create_index("ix_attachments_expires_at", "attachments", ["expires_at"])
    op.create_table(
        "attachment_chunks",
        sa.Column("attachment_id", sa.Integer(), nullable=False),
        sa.Column("index", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["attachment_id"],
            ["attachments.id"],
            name="fk_attachment_chunks_attachment_id_attachments",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("attachment_id", "index", name="pk_attachment_chunks"),
    )


def downgrade() -> None:
    op.drop_table("attachment_chunks")
    op.drop_table("attachments")
