"""Evidence files from a browser without JavaScript, on the real ``hrd-reports serve``.

The server encrypts them as they stream in; no plaintext byte may touch disk. Starlette's
own form parser spools every file part over 1 MB to a temporary file: here the server's
temporary directory, its database (file or dump) and its logs are searched for a canary that
fills a 20 MB file, and the key holder's download is byte for byte what was sent. A photo
loses its GPS position on the way, unless the reporter ticked "keep the original".
"""

import io
import os
import re
from pathlib import Path
from uuid import UUID

import exifread
import httpx
import piexif
import pytest
from PIL import Image

from hrd_reports.settings import Settings
from tests.atrest import every_log_record_in, files_under, find_leaks, postgres_dump
from tests.cli import invoke
from tests.conftest import DatabaseServer
from tests.helpers import Person, hidden_value, query_inbox
from tests.server import ServerProcess

CANARY = "no-script evidence canary: كناري الأدلة".encode()
MIB = 1024 * 1024


def _evidence(megabytes: int) -> bytes:
    """Random bytes with the canary in every 64 KiB, so any piece of the file that leaked,
    wherever it was cut, holds it."""
    pieces = []
    for _ in range(megabytes * 16):
        pieces.append(CANARY + os.urandom(64 * 1024 - len(CANARY)))
    return b"".join(pieces)


def _photo_with_gps() -> bytes:
    gps = {
        piexif.GPSIFD.GPSLatitudeRef: b"N",
        piexif.GPSIFD.GPSLatitude: ((33, 1), (18, 1), (5, 1)),
        piexif.GPSIFD.GPSLongitudeRef: b"E",
        piexif.GPSIFD.GPSLongitude: ((44, 1), (21, 1), (41, 1)),
    }
    exif = piexif.dump({"0th": {piexif.ImageIFD.Make: b"PhoneMaker"}, "GPS": gps})
    out = io.BytesIO()
    Image.new("RGB", (32, 24), (200, 40, 40)).save(out, "JPEG", exif=exif)
    return out.getvalue()


def _gps_tags(jpeg: bytes) -> list[str]:
    return [tag for tag in exifread.process_file(io.BytesIO(jpeg), details=False) if "GPS" in tag]


def _send(server: httpx.Client, files: list[tuple[str, bytes, str]], *, keep: bool) -> UUID:
    token = hidden_value(server.get("/report").text, "form_token")
    fields = {
        "no_script": "yes",
        "form_token": token,
        "incident_type": "surveillance",
        "narrative": "they photographed our office every night",
    }
    if keep:
        fields["keep_original"] = "yes"
    response = server.post(
        "/report",
        data=fields,
        files=[("files", (name, data, media_type)) for name, data, media_type in files],
        timeout=120,
    )
    assert response.status_code == 200, response.text[:500]
    receipt = re.search(r'data-testid="receipt"[^>]*>([\d ]+)<', response.text)
    assert receipt is not None
    return UUID(query_inbox(server, receipt.group(1)).json()["report_id"])


def _download(env: dict[str, str], admin: Person, report: UUID, number: int, out: Path) -> bytes:
    as_admin = ("--as", admin.name, "--password-stdin")
    run = invoke(
        env,
        "reports",
        "attachment",
        str(report),
        str(number),
        "--out",
        str(out),
        *as_admin,
        stdin=admin.password + "\n",
    )
    assert run.exit_code == 0, run.stderr
    assert out.stat().st_mode & 0o777 == 0o600
    data = out.read_bytes()
    out.unlink()
    return data


@pytest.mark.usefixtures("desk")
def test_files_without_javascript_leave_no_plaintext_on_disk_and_arrive_whole(
    settings: Settings,
    admin: Person,
    cli_env: dict[str, str],
    workdir: Path,
    database_server: DatabaseServer,
) -> None:
    temporary = workdir / "tmp"
    temporary.mkdir()
    env = cli_env | {"TMPDIR": str(temporary)}
    evidence = _evidence(20)
    photo = _photo_with_gps()
    assert _gps_tags(photo), "the sample photo must carry a GPS position"
    server = ServerProcess(env, workdir, workers=1)
    with every_log_record_in(workdir / "sweep.log"):
        server.start()
        try:
            with httpx.Client(base_url=server.url, timeout=60) as client:
                cleaned = _send(
                    client,
                    [
                        ("evidence.bin", evidence, "application/octet-stream"),
                        ("car.jpg", photo, "image/jpeg"),
                    ],
                    keep=False,
                )
                kept = _send(client, [("car.jpg", photo, "image/jpeg")], keep=True)
        finally:
            server.stop()

        out = workdir.parent / "downloaded"
        assert _download(env, admin, cleaned, 1, out) == evidence
        without_gps = _download(env, admin, cleaned, 2, out)
        assert _gps_tags(without_gps) == []
        assert Image.open(io.BytesIO(without_gps)).size == (32, 24)
        assert _gps_tags(_download(env, admin, kept, 1, out)) != []
        show = invoke(
            env,
            "reports",
            "show",
            str(cleaned),
            "--json",
            "--as",
            admin.name,
            "--password-stdin",
            stdin=admin.password + "\n",
        )
        assert '"metadata": "removed"' in show.stdout
        assert '"metadata": "not-checked"' in show.stdout

    blobs = [(str(path), path.read_bytes()) for path in files_under(workdir)]
    if database_server.is_postgresql:
        blobs.append(("pg_dump", postgres_dump(settings.database_url)))
    else:
        assert any(path.endswith(".db") for path, _ in blobs)
    leaks = find_leaks(blobs, {"canary inside a file": CANARY})
    assert not leaks, "found at rest:\n" + "\n".join(leaks)
