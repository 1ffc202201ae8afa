"""``assets manifest`` and ``verify-assets``: what a reporter's browser is sent, published with
a release, and checked on a running desk by anyone."""

import typer

from hrd_reports.cli.common import JSON_OUTPUT, cli_command, fail, print_json
from hrd_reports.received import visible
from hrd_reports.settings import Settings
from hrd_reports.verify_assets import (
    Unreachable,
    Verdict,
    desk_client,
    desk_origin,
    is_onion,
    verify,
)
from hrd_reports.web.manifest import MANIFEST_PATH, build_manifest, manifest_bytes
from hrd_reports.web.pages import Pages

app = typer.Typer(help="The files a reporter's browser runs or reads.", no_args_is_help=True)

# Long values (hashes, policies) are cut in the table; --json has them whole.
_SHOWN = 64
# Pages whose first change is shown after the table.
_DETAILED = 3


@app.command("manifest")
@cli_command
def manifest(json_output: bool = JSON_OUTPUT) -> None:
    """Print this release's manifest, as the desk serves it at the well-known path.

    Rendered with this environment's HRD_* settings (the desk's name, quick-exit address,
    limits on files): run it with the desk's own, or with none for a release's defaults.
    """
    settings = Settings()
    document = build_manifest(settings, Pages(settings))
    if json_output:
        # The very bytes the desk serves, so that the two can be compared with sha256sum.
        typer.echo(manifest_bytes(document).decode("utf-8"), nl=False)
        return
    release = document["manifest"]
    typer.echo(f"{release['name']} {release['version']}: served at {MANIFEST_PATH}")
    typer.echo("SHA-256 (base64url) of each file, and of each page with its form token empty:")
    for path, digest in sorted(release["files"].items()):
        typer.echo(f"  {digest}  {path}")
    for path, digest in sorted(document["hrd_reports"]["pages"].items()):
        typer.echo(f"  {digest}  {path}")


@cli_command
def verify_assets(
    url: str = typer.Argument(..., help="The desk's address, such as http://<56>.onion."),
    json_output: bool = JSON_OUTPUT,
) -> None:
    """Fetch a desk's reporter pages and files and compare them with this release's.

    Exits 0 when every one is identical, 1 when any differs (each is named), 2 when the desk
    could not be asked. An onion address is reached through HRD_TOR_SOCKS only; when it is
    set, every address is.
    """
    try:
        origin = desk_origin(url)
    except ValueError as exc:
        raise fail(str(exc), code=2) from None
    proxy = Settings().tor_socks
    if is_onion(origin) and proxy is None:
        raise fail(
            "an onion address is reached through Tor: set HRD_TOR_SOCKS to Tor's SOCKS port, "
            "such as socks5h://127.0.0.1:9050 (Tor Browser's is 9150)",
            code=2,
        )
    try:
        with desk_client(proxy=proxy) as client:
            verdict = verify(origin, client=client)
    except Unreachable as exc:
        raise fail(f"the desk could not be asked: {exc}", code=2) from None
    if json_output:
        print_json(verdict.as_json())
    else:
        _print(verdict)
    if not verdict.identical:
        raise typer.Exit(1)


def _print(verdict: Verdict) -> None:
    typer.echo(f"Desk {verdict.url}, compared with hrd-reports {verdict.release}.")
    if verdict.desk_version is not None:
        typer.echo(f"The desk says it runs hrd-reports {verdict.desk_version}.")
    typer.echo("Its pages were rendered here with the settings it declares:")
    for name, value in verdict.desk.items():
        typer.echo(f"  HRD_{name.upper()} = {value!r}")
    if verdict.identical:
        typer.echo(
            f"Identical: all {len(verdict.checked)} files and pages are what this release "
            "would serve."
        )
        return
    rows = [("PATH", "EXPECTED", "GOT")] + [
        (visible(d.path), _cut(d.expected), _cut(d.got)) for d in verdict.differences
    ]
    width = max(len(path) for path, _, _ in rows)
    hash_width = max(len(expected) for _, expected, _ in rows)
    for path, expected, got in rows:
        typer.echo(f"{path:<{width}}  {expected:<{hash_width}}  {got}")
    typer.echo(
        f"DIFFERENT: {len(verdict.differences)} of what the desk serves is not what this "
        f"release would serve ({len(verdict.checked)} files and pages checked)."
    )
    detailed = [d for d in verdict.differences if d.detail and "Content-Security" not in d.path]
    for difference in detailed[:_DETAILED]:
        # The desk's own words: a control character in them is shown, never acted on.
        typer.echo(f"\nFirst change in {visible(difference.path)}:")
        typer.echo("\n".join(visible(line) for line in difference.detail.splitlines()))
    if len(detailed) > _DETAILED:
        typer.echo(f"\n(--json shows where each of the {len(detailed)} pages differs.)")


def _cut(value: str) -> str:
    value = visible(value)
    return value if len(value) <= _SHOWN else value[: _SHOWN - 1] + "…"
