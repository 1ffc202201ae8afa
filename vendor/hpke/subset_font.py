"""Cuts a woff2 font down to the code points a page needs; called by write-manifests.mjs.

    python subset_font.py SOURCE OUTPUT --keep RANGES --within RANGES
    python subset_font.py --check-versions

RANGES are CSS unicode-range lists ("U+0100-017F, U+0304"). ``--keep`` is what to keep;
``--within`` is the range the source file is declared for, and every kept range must lie in
it. Prints, as JSON, the unicode-range the output covers (exactly the code points in its cmap,
so a page never picks the face for a character it lacks), the layout features asked for and
those kept, its hinting tables and the versions of the subsetter.

The output depends only on the source, the arguments and the versions of fontTools and brotli
(brotli compresses woff2), and those are the ones pyproject.toml pins: any other version is
refused, because it may write other bytes and the build would no longer be reproducible.
"""

import argparse
import io
import json
import sys
import tomllib
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"
SUBSETTER = ("fonttools", "brotli")

# What correct rendering needs from GSUB and GPOS for Latin text: composition and
# decomposition (ccmp), local letter forms (locl: Romanian and Moldavian s and t with a comma
# below instead of a cedilla), ligatures (liga), spacing (kern, and dist, which HarfBuzz applies
# to every horizontal script), and accents placed on letters and on accents (mark, mkmk). The
# subsetter drops a feature left with nothing to do for the glyphs kept.
LAYOUT_FEATURES = ("ccmp", "dist", "kern", "liga", "locl", "mark", "mkmk")
HINTING_TABLES = ("cvar", "cvt ", "fpgm", "prep")


def parse_ranges(text: str) -> list[tuple[int, int]]:
    ranges = []
    for part in text.split(","):
        low, _, high = part.strip().removeprefix("U+").partition("-")
        ranges.append((int(low, 16), int(high or low, 16)))
    return ranges


def format_ranges(code_points: set[int]) -> str:
    ranges: list[list[int]] = []
    for code_point in sorted(code_points):
        if ranges and ranges[-1][1] == code_point - 1:
            ranges[-1][1] = code_point
        else:
            ranges.append([code_point, code_point])
    return ", ".join(
        f"U+{low:04X}" if low == high else f"U+{low:04X}-{high:04X}" for low, high in ranges
    )


def check_subsetter_versions() -> dict[str, str]:
    extras = tomllib.loads(PYPROJECT.read_text())["project"]["optional-dependencies"]
    pins = {
        name: pinned
        for requirements in extras.values()
        for requirement in requirements
        for name, sep, pinned in [requirement.partition("==")]
        if sep and name in SUBSETTER
    }
    versions = {}
    for name in SUBSETTER:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = "not installed"
        if name not in pins or versions[name] != pins[name]:
            sys.exit(
                f"subset_font.py: {name} is {versions[name]} in {sys.executable}, "
                f"pyproject.toml pins {pins.get(name, 'nothing')}: "
                "set FONT_PYTHON to a Python with the pinned versions (see README.md)"
            )
    return versions


def subset(source: Path, output: Path, keep: str, within: str) -> dict[str, object]:
    # Imported after the version check, so that a missing fontTools is reported as such.
    from fontTools import subset as subsetter  # noqa: PLC0415

    declared = parse_ranges(within)
    for low, high in parse_ranges(keep):
        if not any(d_low <= low and high <= d_high for d_low, d_high in declared):
            sys.exit(f"subset_font.py: {keep} is not within the source's range {within}")

    options = subsetter.Options()
    options.flavor = "woff2"
    options.layout_features = list(LAYOUT_FEATURES)
    # Every name record the source has (copyright, licence URL, axis names): only the glyphs go.
    options.name_IDs = ["*"]
    options.name_languages = ["*"]
    # Hinting stays as the source has it; recalc_timestamp stays off, so head.modified is the
    # source's and not the time of the build.
    options.hinting = True
    options.recalc_timestamp = False
    wanted = {code_point for low, high in parse_ranges(keep) for code_point in range(low, high + 1)}
    font = subsetter.load_font(str(source), options)
    hinting = [tag.strip() for tag in HINTING_TABLES if tag in font]
    tool = subsetter.Subsetter(options)
    tool.populate(unicodes=sorted(wanted))
    tool.subset(font)
    data = io.BytesIO()
    subsetter.save_font(font, data, options)
    output.write_bytes(data.getvalue())

    covered = set(font.getBestCmap())
    if not covered or not covered <= wanted:
        sys.exit(f"subset_font.py: {output.name} covers {format_ranges(covered)}, not {keep}")
    features = sorted(
        {
            record.FeatureTag
            for tag in ("GSUB", "GPOS")
            if tag in font
            for record in font[tag].table.FeatureList.FeatureRecord
        }
    )
    kept_hinting = [tag.strip() for tag in HINTING_TABLES if tag in font]
    if kept_hinting != hinting:
        sys.exit(f"subset_font.py: hinting tables {hinting} became {kept_hinting}")
    return {
        "unicode_range": format_ranges(covered),
        "layout_features": {"asked": list(LAYOUT_FEATURES), "kept": features},
        "hinting_tables": hinting,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("source", type=Path, nargs="?")
    parser.add_argument("output", type=Path, nargs="?")
    parser.add_argument("--keep")
    parser.add_argument("--within")
    parser.add_argument("--check-versions", action="store_true")
    arguments = parser.parse_args()
    versions = check_subsetter_versions()
    if arguments.check_versions:
        return
    if None in (arguments.source, arguments.output, arguments.keep, arguments.within):
        parser.error("SOURCE, OUTPUT, --keep and --within are all needed")
    result = subset(arguments.source, arguments.output, arguments.keep, arguments.within)
    result["subsetter"] = ", ".join(f"{name} {versions[name]}" for name in SUBSETTER)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
