"""The browser's cryptography is exactly the pinned, recorded bundle (the fonts: test_fonts.py).

A changed byte in ``static/vendor/hpke.min.js`` (a bad rebuild, a tampered checkout) must fail
here before any reporter runs it.
"""

import base64
import hashlib
import json
import re
from pathlib import Path

from hrd_reports.resources import resource_dir
from hrd_reports.web.manifest import static_files

REPOSITORY = Path(__file__).parents[2]
STATIC = resource_dir("static")


def test_bundle_matches_its_recorded_sha256_and_integrity() -> None:
    record = json.loads((STATIC / "vendor" / "hpke.min.js.json").read_text())
    bundle = (STATIC / "vendor" / record["file"]).read_bytes()
    assert hashlib.sha256(bundle).hexdigest() == record["sha256"]
    integrity = "sha384-" + base64.b64encode(hashlib.sha384(bundle).digest()).decode()
    assert integrity == record["integrity"]
    assert len(bundle) == record["bytes"]


def test_published_manifest_names_the_bundle_by_its_recorded_sha256() -> None:
    # The manifest a desk serves (and verify-assets checks) and the build's own record agree:
    # a bundle that passed one of them but not the other would be a second truth.
    record = json.loads((STATIC / "vendor" / "hpke.min.js.json").read_text())
    recorded = base64.urlsafe_b64encode(bytes.fromhex(record["sha256"])).rstrip(b"=").decode()
    assert static_files()["/static/vendor/hpke.min.js"] == recorded


def test_bundle_pins_the_packages_of_its_lockfile() -> None:
    record = json.loads((STATIC / "vendor" / "hpke.min.js.json").read_text())
    manifest = json.loads((REPOSITORY / "vendor" / "hpke" / "package.json").read_text())
    lock = json.loads((REPOSITORY / "vendor" / "hpke" / "package-lock.json").read_text())
    for name, version in manifest["dependencies"].items():
        assert version[0].isdigit(), f"{name} is not pinned to an exact version"
    for name, package in record["packages"].items():
        locked = lock["packages"][f"node_modules/{name}"]
        assert (locked["version"], locked["integrity"]) == (
            package["version"],
            package["integrity"],
        )
    assert {"@hpke/core", "@hpke/hybridkem-x-wing", "@noble/hashes"} <= set(record["packages"])


def test_bundle_exports_what_its_entry_point_names_and_nothing_else() -> None:
    # Everything the bundle exports runs in every reporter's browser: an entry point changed
    # without a rebuild (or a bundle rebuilt from another entry point) must not pass.
    record = json.loads((STATIC / "vendor" / "hpke.min.js.json").read_text())
    entry = (REPOSITORY / "vendor" / "hpke" / "entry.mjs").read_text()
    named = set(re.findall(r"^export \{ ([^}]+) \}", entry, flags=re.MULTILINE))
    exported = {name.strip() for names in named for name in names.split(",")}
    assert (
        exported
        == set(record["exports"])
        == {
            "Aes256Gcm",
            "CipherSuite",
            "HkdfSha256",
            "XWing",
            "sha256",
        }
    )


def test_bundle_hashes_with_the_pinned_noble_hashes() -> None:
    record = json.loads((STATIC / "vendor" / "hpke.min.js.json").read_text())
    manifest = json.loads((REPOSITORY / "vendor" / "hpke" / "package.json").read_text())
    assert (
        record["packages"]["@noble/hashes"]["version"] == manifest["dependencies"]["@noble/hashes"]
    )


def test_bundle_says_whether_its_packages_were_audited() -> None:
    # A build whose advisory check could not run says so in the committed record, for every
    # reviewer to see; it never passes for an audited one.
    audit = json.loads((STATIC / "vendor" / "hpke.min.js.json").read_text())["audit"]
    assert audit in {
        "npm audit --package-lock-only passed",
        "not audited: the registry's audit endpoint did not answer at build time",
    }
