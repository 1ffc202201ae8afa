"""The ``hrd-reports`` command line (DESIGN.md section 5): a stable interface for operators."""

import typer

from hrd_reports.cli import assets, backup, desk, keys, partners, retention, users

app = typer.Typer(
    help="hrd-reports: secure incident reporting for human-rights defenders.",
    no_args_is_help=True,
    add_completion=False,
    # A traceback could print local variables, passwords among them.
    pretty_exceptions_enable=False,
)
app.command("init")(desk.init)
app.command("serve")(desk.serve)
app.command("status")(desk.status)
app.add_typer(users.app, name="user")
app.add_typer(keys.app, name="keys")
# Its commands with those that ``retention`` adds to it (purge, hold, release).
app.add_typer(retention.app, name="reports")
app.add_typer(backup.app, name="backup")
app.add_typer(assets.app, name="assets")
app.command("verify-assets")(assets.verify_assets)
app.add_typer(partners.app, name="partner")

audit_app = typer.Typer(help="The audit log.", no_args_is_help=True)
audit_app.command("verify")(desk.audit_verify)
app.add_typer(audit_app, name="audit")


def main() -> None:
    app()
