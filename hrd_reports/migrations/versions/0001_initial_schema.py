"""Initial schema: users, intake key ring, reports, grants, rotations, audit chain.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_events",
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("occurred_at", sa.String(length=20), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=True),
        sa.Column("detail", sa.String(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_events")),
    )
    audit_head = op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_head")),
    )
    # The chain starts from the all-zero digest; appends lock and move this one row.
    op.bulk_insert(audit_head, [{"id": 1, "seq": 0, "digest": "0" * 64}])
    op.create_table(
        "intake_keys",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("suite", sa.String(length=64), nullable=False),
        sa.Column("public_key", sa.LargeBinary(), nullable=False),
        sa.Column("key_binding", sa.LargeBinary(length=32), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "active",
                "retired",
                "destroyed",
                name="intake_key_state",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("created_on", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_intake_keys")),
    )
    with op.batch_alter_table("intake_keys", schema=None) as batch_op:
        batch_op.create_index(
            "uq_intake_keys_one_active",
            ["state"],
            unique=True,
            sqlite_where=sa.text("state = 'active'"),
            postgresql_where=sa.text("state = 'active'"),
        )

    op.create_table(
        "recovery_keys",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("public_key", sa.LargeBinary(), nullable=False),
        sa.Column("key_binding", sa.LargeBinary(length=32), nullable=False),
        sa.Column("created_on", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recovery_keys")),
    )
    op.create_table(
        "setup_links",
        sa.Column("token_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_setup_links")),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column(
            "role",
            sa.Enum(
                "admin",
                "coordinator",
                "case_worker",
                "auditor",
                name="role",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("public_key", sa.LargeBinary(), nullable=False),
        sa.Column("key_id", sa.String(length=32), nullable=False),
        sa.Column("key_binding", sa.LargeBinary(length=32), nullable=False),
        sa.Column("protected_private_key", sa.LargeBinary(), nullable=False),
        sa.Column("vetted", sa.Boolean(), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("created_on", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("name", name=op.f("uq_users_name")),
        sa.UniqueConstraint("public_id", name=op.f("uq_users_public_id")),
    )
    op.create_table(
        "intake_key_grants",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("intake_key_id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("recovery_key_id", sa.String(length=32), nullable=True),
        sa.Column("holder_key_id", sa.String(length=32), nullable=False),
        sa.Column("suite", sa.String(length=64), nullable=False),
        sa.Column("sealed_private_key", sa.LargeBinary(), nullable=False),
        sa.Column("grant_binding", sa.LargeBinary(length=32), nullable=False),
        sa.CheckConstraint(
            "(user_id IS NULL) <> (recovery_key_id IS NULL)",
            name=op.f("ck_intake_key_grants_one_holder"),
        ),
        sa.ForeignKeyConstraint(
            ["intake_key_id"],
            ["intake_keys.id"],
            name=op.f("fk_intake_key_grants_intake_key_id_intake_keys"),
        ),
        sa.ForeignKeyConstraint(
            ["recovery_key_id"],
            ["recovery_keys.id"],
            name=op.f("fk_intake_key_grants_recovery_key_id_recovery_keys"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_intake_key_grants_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_intake_key_grants")),
        sa.UniqueConstraint(
            "intake_key_id", "recovery_key_id", name="uq_intake_key_grants_recovery"
        ),
        sa.UniqueConstraint("intake_key_id", "user_id", name="uq_intake_key_grants_user"),
    )
    with op.batch_alter_table("intake_key_grants", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_intake_key_grants_intake_key_id"), ["intake_key_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_intake_key_grants_user_id"), ["user_id"], unique=False)

    op.create_table(
        "key_rotations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("to_key_id", sa.String(length=32), nullable=False),
        sa.Column("started_by", sa.String(length=64), nullable=False),
        sa.Column("started_on", sa.Date(), nullable=False),
        sa.Column("reports_total", sa.Integer(), nullable=False),
        sa.Column("finished", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["to_key_id"], ["intake_keys.id"], name=op.f("fk_key_rotations_to_key_id_intake_keys")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_key_rotations")),
    )
    with op.batch_alter_table("key_rotations", schema=None) as batch_op:
        batch_op.create_index(
            "uq_key_rotations_one_running",
            ["finished"],
            unique=True,
            sqlite_where=sa.text("finished = 0"),
            postgresql_where=sa.text("finished = false"),
        )

    op.create_table(
        "reports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.Uuid(), nullable=False),
        sa.Column("envelope_version", sa.Integer(), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("dek_key_id", sa.String(length=32), nullable=False),
        sa.Column("dek_suite", sa.String(length=64), nullable=False),
        sa.Column("sealed_dek", sa.LargeBinary(), nullable=False),
        sa.Column("reporter_key", sa.LargeBinary(), nullable=False),
        sa.Column("lookup_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("server_sealed", sa.Boolean(), nullable=False),
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
        sa.Column("assignee_id", sa.Integer(), nullable=True),
        sa.Column("received_on", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(
            ["assignee_id"], ["users.id"], name=op.f("fk_reports_assignee_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["dek_key_id"], ["intake_keys.id"], name=op.f("fk_reports_dek_key_id_intake_keys")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reports")),
        sa.UniqueConstraint("lookup_hash", name=op.f("uq_reports_lookup_hash")),
        sa.UniqueConstraint("public_id", name=op.f("uq_reports_public_id")),
    )
    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_reports_assignee_id"), ["assignee_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_reports_dek_key_id"), ["dek_key_id"], unique=False)

    op.create_table(
        "report_grants",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("holder_key_id", sa.String(length=32), nullable=False),
        sa.Column("suite", sa.String(length=64), nullable=False),
        sa.Column("sealed_dek", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["reports.id"],
            name=op.f("fk_report_grants_report_id_reports"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_report_grants_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_grants")),
        sa.UniqueConstraint("report_id", "user_id", name="uq_report_grants_user"),
    )
    with op.batch_alter_table("report_grants", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_report_grants_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("report_grants", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_report_grants_user_id"))

    op.drop_table("report_grants")
    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reports_dek_key_id"))
        batch_op.drop_index(batch_op.f("ix_reports_assignee_id"))

    op.drop_table("reports")
    with op.batch_alter_table("key_rotations", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_key_rotations_one_running",
            sqlite_where=sa.text("finished = 0"),
            postgresql_where=sa.text("finished = false"),
        )

    op.drop_table("key_rotations")
    with op.batch_alter_table("intake_key_grants", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_intake_key_grants_user_id"))
        batch_op.drop_index(batch_op.f("ix_intake_key_grants_intake_key_id"))

    op.drop_table("intake_key_grants")
    op.drop_table("users")
    op.drop_table("setup_links")
    op.drop_table("recovery_keys")
    with op.batch_alter_table("intake_keys", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_intake_keys_one_active",
            sqlite_where=sa.text("state = 'active'"),
            postgresql_where=sa.text("state = 'active'"),
        )

    op.drop_table("intake_keys")
    op.drop_table("audit_head")
    op.drop_table("audit_events")
