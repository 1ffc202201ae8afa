"""The follow-up conversation: messages, the reporter's stages, withdrawal and its tombstones.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "stage_messages",
        sa.Column(
            "stage",
            sa.Enum(
                "received",
                "reviewing",
                "action",
                "closed",
                name="reporter_stage",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("locale", sa.String(length=16), nullable=False),
        sa.Column("text", sa.String(length=500), nullable=False),
        sa.PrimaryKeyConstraint("stage", "locale", name=op.f("pk_stage_messages")),
    )
    op.create_table(
        "withdrawn_reports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.Uuid(), nullable=False),
        sa.Column("received_on", sa.Date(), nullable=False),
        sa.Column("withdrawn_on", sa.Date(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "received",
                "acknowledged",
                "triage",
                "open",
                "action",
                "monitoring",
                "closed",
                "duplicate",
                "out_of_mandate",
                name="report_status",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "priority",
            sa.Enum("p1", "p2", "p3", "p4", name="priority", native_enum=False, length=32),
            nullable=True,
        ),
        sa.Column(
            "risk",
            sa.Enum(
                "low", "medium", "high", "critical", name="risk_level", native_enum=False, length=32
            ),
            nullable=True,
        ),
        sa.Column("urgent", sa.Boolean(), nullable=True),
        sa.Column("server_sealed", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_withdrawn_reports")),
        sa.UniqueConstraint("public_id", name=op.f("uq_withdrawn_reports_public_id")),
    )
    op.create_table(
        "unaudited_withdrawals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.Uuid(), nullable=False),
        sa.Column("withdrawn_on", sa.Date(), nullable=False),
        sa.Column("destroyed", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_unaudited_withdrawals")),
    )
    op.create_table(
        "report_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.Uuid(), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column(
            "sender",
            sa.Enum("reporter", "desk", name="message_sender", native_enum=False, length=32),
            nullable=False,
        ),
        sa.Column("author", sa.String(length=64), nullable=True),
        sa.Column("sent_on", sa.Date(), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("for_reporter", sa.LargeBinary(), nullable=True),
        sa.Column("unread", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["reports.id"],
            name=op.f("fk_report_messages_report_id_reports"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_messages")),
        sa.UniqueConstraint("public_id", name=op.f("uq_report_messages_public_id")),
    )
    with op.batch_alter_table("report_messages", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_report_messages_report_id"), ["report_id"], unique=False
        )

    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.add_column(sa.Column("message_key", sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column("withdrawn_on", sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.drop_column("withdrawn_on")
        batch_op.drop_column("message_key")

    with op.batch_alter_table("report_messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_report_messages_report_id"))

    op.drop_table("report_messages")
    op.drop_table("unaudited_withdrawals")
    op.drop_table("withdrawn_reports")
    op.drop_table("stage_messages")
