"""E-mail notifications of the desk's staff: each person's choice, the mails waiting to be
sent, the state of sending, and a partial index of unread reporters' messages.

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def _choice(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, length=32)


def upgrade() -> None:
    op.create_table(
        "notification_subscriptions",
        sa.Column("user_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column(
            "choice",
            _choice("notify_choice", "off", "urgent_and_digest", "digest"),
            nullable=False,
        ),
        sa.Column("address", sa.LargeBinary(), nullable=True),
        sa.Column("locale", sa.String(length=16), nullable=False),
        sa.Column("seen_report_id", sa.Integer(), nullable=False),
        sa.Column("seen_message_id", sa.Integer(), nullable=False),
        sa.Column("seen_grant_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name="fk_notification_subscriptions_user_id_users",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", name="pk_notification_subscriptions"),
    )
    op.create_table(
        "pending_notifications",
        sa.Column("user_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("kind", _choice("notification_kind", "urgent", "digest"), nullable=False),
        sa.Column("reports", sa.Integer(), nullable=False),
        sa.Column("messages", sa.Integer(), nullable=False),
        sa.Column("urgent", sa.Integer(), nullable=False),
        sa.Column("waiting_since", sa.DateTime(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(length=64), nullable=True),
        sa.Column("claimed_until", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name="fk_pending_notifications_user_id_users",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", name="pk_pending_notifications"),
    )
    op.create_index(
        "ix_pending_notifications_next_attempt_at", "pending_notifications", ["next_attempt_at"]
    )
    op.create_table(
        "notification_state",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last_success_at", sa.DateTime(), nullable=True),
        sa.Column("last_failure_at", sa.DateTime(), nullable=True),
        sa.Column("last_error", sa.String(length=64), nullable=True),
        sa.Column("sent", sa.BigInteger(), nullable=False),
        sa.Column("failures", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_notification_state"),
    )
    unread = sa.column("unread").is_(True)
    op.create_index(
        "ix_report_messages_unread",
        "report_messages",
        ["report_id"],
        sqlite_where=unread,
        postgresql_where=unread,
    )


def downgrade() -> None:
    op.drop_index("ix_report_messages_unread", table_name="report_messages")
    op.drop_table("notification_state")
    op.drop_index("ix_pending_notifications_next_attempt_at", table_name="pending_notifications")
    op.drop_table("pending_notifications")
    op.drop_table("notification_subscriptions")
