"""Known vulnerabilities of the installed packages, where pip-audit's source cannot be reached.

pip-audit asks PyPI for each installed version (``/pypi/NAME/VERSION/json``). Where only the
project documents (``/pypi/NAME/json``) can be reached, those still list the known
vulnerabilities of the project's latest release: every package installed at its latest
release is audited from them. Exits 1 when a vulnerability is found, and also when a package
is not at its latest release, since it could then not be audited: "no known vulnerability"
is claimed only of what was checked.

    python .ci/audit_latest.py requirements.txt   # NAME==VERSION lines, as pip freeze writes
"""

import json
import sys
import urllib.request
from pathlib import Path


def latest(name: str) -> tuple[str, list[dict[str, object]]]:
    url = f"https://pypi.org/pypi/{name}/json"
    with urllib.request.urlopen(url, timeout=30) as answer:
        document = json.load(answer)
    return document["info"]["version"], document.get("vulnerabilities") or []


def main() -> int:
    pins = [
        line.split("==", 1)
        for line in Path(sys.argv[1]).read_text().splitlines()
        if "==" in line and not line.startswith("#")
    ]
    found, not_audited = [], []
    for name, version in pins:
        newest, vulnerabilities = latest(name)
        if newest != version:
            not_audited.append(f"{name} {version} (latest {newest})")
            continue
        found += [
            f"{name} {version}: {v.get('id')} {', '.join(map(str, v.get('aliases') or []))}"
            for v in vulnerabilities
            if not v.get("withdrawn")
        ]
    audited = len(pins) - len(not_audited)
    print(f"audited {audited} of {len(pins)} packages from PyPI's project documents")
    for line in not_audited:
        print(f"  not audited (not the latest release): {line}")
    for line in found:
        print(f"  VULNERABLE: {line}")
    print(f"known vulnerabilities: {len(found)}")
    return 1 if found or not_audited else 0


if __name__ == "__main__":
    sys.exit(main())
