// Called by build.sh: node write-manifests.mjs OUT_DIR VECTORS_JSON
// Checks OUT_DIR/hpke.min.js (its exports, and the project's known-answer vectors), then
// writes OUT_DIR/hpke.min.js.json, OUT_DIR/fonts.css and OUT_DIR/fonts/ (the font files and
// their licences, copied from node_modules/ or cut down from them by subset_font.py, run with
// the Python that FONT_PYTHON names, and fonts.json).
// Everything written is a function of the inputs only (no dates, no absolute paths).
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runInThisContext } from "node:vm";
import { gzipSync } from "node:zlib";

const [outDir, vectorsPath] = process.argv.slice(2);
const EXPORTS = ["Aes256Gcm", "CipherSuite", "HkdfSha256", "XWing", "sha256"];

const readJson = (path) => JSON.parse(readFileSync(path, "utf8"));
const writeJson = (path, value) => writeFileSync(path, JSON.stringify(value, null, 2) + "\n");
const sha256 = (buf) => createHash("sha256").update(buf).digest("hex");
const hex = (bytes) => Buffer.from(bytes).toString("hex");
const fromHex = (text) => new Uint8Array(Buffer.from(text, "hex"));
const fail = (message) => {
  console.error(`build failed: ${message}`);
  process.exit(1);
};

const lock = readJson("package-lock.json");

function installed(name) {
  const pkg = readJson(join("node_modules", name, "package.json"));
  const locked = lock.packages[`node_modules/${name}`];
  if (!locked || locked.version !== pkg.version) {
    fail(`node_modules/${name} is ${pkg.version}, not the locked version: run npm ci`);
  }
  return { version: pkg.version, license: pkg.license, integrity: locked.integrity };
}

// --- The bundle -------------------------------------------------------------------------

const bundle = readFileSync(join(outDir, "hpke.min.js"));
const code = bundle.toString("utf8");
if (/\bimport\s*\(|\brequire\s*\(/.test(code)) {
  fail("the bundle contains import() or require(): a Node built-in slipped in");
}

// Which packages esbuild actually put into the bundle (from its metafile).
const meta = readJson(join(outDir, "meta.json"));
const names = new Set();
for (const input of Object.keys(meta.inputs)) {
  const match = input.match(/(?:^|\/)node_modules\/((?:@[^/]+\/)?[^/]+)\//);
  if (match) names.add(match[1]);
}
const packages = {};
for (const name of [...names].sort()) packages[name] = installed(name);

// Load it as a classic script, as a browser would, and check it against the vectors.
runInThisContext(code, { filename: "hpke.min.js" });
const HPKE = globalThis.HPKE;
const keys = Object.keys(HPKE).sort();
if (JSON.stringify(keys) !== JSON.stringify(EXPORTS)) {
  fail(`HPKE exports ${keys.join(", ")}; expected ${EXPORTS.join(", ")}`);
}
const vectors = readJson(vectorsPath);
const suite = new HPKE.CipherSuite({
  kem: new HPKE.XWing(),
  kdf: new HPKE.HkdfSha256(),
  aead: new HPKE.Aes256Gcm(),
});
for (const vector of vectors.xwing_keys) {
  const pair = await suite.kem.generateKeyPairDerand(fromHex(vector.seed_hex));
  const publicKey = hex(await suite.kem.serializePublicKey(pair.publicKey));
  if (publicKey !== vector.public_key_hex) fail(`wrong public key for seed ${vector.seed_hex}`);
}
for (const vector of vectors.hpke_open) {
  const pair = await suite.kem.generateKeyPairDerand(fromHex(vector.recipient_seed_hex));
  const sealed = fromHex(vector.sealed_hex);
  const plaintext = await suite.open(
    {
      recipientKey: pair.privateKey,
      enc: sealed.slice(0, suite.kem.encSize),
      info: new TextEncoder().encode(vector.info_ascii),
    },
    sealed.slice(suite.kem.encSize),
  );
  if (hex(plaintext) !== vector.plaintext_hex) fail("an hpke_open vector did not open");
}
// The bundle's SHA-256, fed in uneven pieces as a file is read, against Node's own.
const sample = new Uint8Array(200003).map((_, i) => (i * 31 + 7) & 0xff);
for (const piece of [1, 64, 4096, 65537]) {
  const hasher = HPKE.sha256.create();
  for (let at = 0; at < sample.length; at += piece) hasher.update(sample.subarray(at, at + piece));
  if (hex(hasher.digest()) !== sha256(sample)) fail(`sha256 in pieces of ${piece} is wrong`);
}
if (hex(HPKE.sha256(new Uint8Array(0))) !== sha256(new Uint8Array(0))) fail("sha256('') is wrong");

writeJson(join(outDir, "hpke.min.js.json"), {
  file: "hpke.min.js",
  format: "classic script (IIFE) defining the global HPKE",
  exports: EXPORTS,
  bytes: bundle.length,
  gzip_bytes: gzipSync(bundle, { level: 9 }).length,
  sha256: sha256(bundle),
  integrity: "sha384-" + createHash("sha384").update(bundle).digest("base64"),
  packages,
  esbuild: readJson("node_modules/esbuild/package.json").version,
  audit: process.env.VENDOR_AUDIT || fail("VENDOR_AUDIT is not set: run build.sh"),
  rebuild: "cd vendor/hpke && npm ci --ignore-scripts && ./build.sh",
});

// --- The fonts --------------------------------------------------------------------------

// Every file is named <package>-<subset>-<weight>.woff2 and drawn only for its subset's
// unicode-range, so a page fetches the files of the scripts it shows and no other. The
// regular face only: browsers draw bold from it, and a reporter on a slow or metered
// connection gains more from the bytes saved than from heavier strokes. Subsets are
// declared in this order, and where two faces of one family claim a character (latin and
// latin-ext share U+0304, U+0308, U+0329) the face declared last is tried first: the small
// latin file, so that an English page never fetches latin-ext for a combining mark.
// A subset with "keep" is served cut down to those ranges (which must lie within its
// unicode.json range), and declared for exactly the code points the cut file still has.
// latin-ext whole is 55.6 KB, fetched by every Kurmanji page for ş and Ş alone, and pushed the
// report form to the edge of its 150 KB; Latin Extended-A (U+0100-017F) holds those two and the
// letters of the other European languages written in Latin, for a few KB.
// tests/unit/test_fonts.py fails if a catalogue uses a letter beyond it: widen "keep" then.
const FONTS = [
  {
    name: "@fontsource/noto-sans-arabic",
    family: "Noto Sans Arabic",
    subsets: [{ subset: "arabic" }],
  },
  {
    name: "@fontsource/noto-sans",
    family: "Noto Sans",
    subsets: [{ subset: "latin-ext", keep: "U+0100-017F" }, { subset: "latin" }],
  },
];
const FONT_WEIGHT = 400;
const fontsDir = join(outDir, "fonts");
mkdirSync(fontsDir);

// Writes SOURCE cut down to the KEEP ranges at OUTPUT, with fontTools' subsetter at the
// versions pyproject.toml pins; returns what subset_font.py reports of the cut file.
function subsetFont(source, output, keep, within) {
  const python = process.env.FONT_PYTHON || fail("FONT_PYTHON is not set: run build.sh");
  let report;
  try {
    report = execFileSync(
      python,
      ["subset_font.py", source, output, "--keep", keep, "--within", within],
      { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] }
    );
  } catch {
    fail(`subset_font.py could not cut ${source} down to ${keep}`);
  }
  return JSON.parse(report);
}

const fontPackages = {};
const fontFiles = {};
const faces = [];
for (const { name, family, subsets } of FONTS) {
  const font = installed(name);
  if (font.license !== "OFL-1.1") fail(`${name} is licensed ${font.license}, not OFL-1.1`);
  const base = name.split("/")[1];
  // Each package's own licence: they differ in their copyright lines.
  const licenseFile = `${base}-OFL.txt`;
  const license = readFileSync(join("node_modules", name, "LICENSE"));
  writeFileSync(join(fontsDir, licenseFile), license);
  const { version, integrity } = font;
  fontPackages[name] = { family, version, integrity, license: font.license };
  fontFiles[licenseFile] = { package: name, bytes: license.length, sha256: sha256(license) };

  const ranges = readJson(join("node_modules", name, "unicode.json"));
  for (const { subset, keep } of subsets) {
    if (!ranges[subset]) fail(`${name} has no "${subset}" range in unicode.json`);
    const file = `${base}-${subset}-${FONT_WEIGHT}.woff2`;
    const sourceName = `${base}-${subset}-${FONT_WEIGHT}-normal.woff2`;
    const source = join("node_modules", name, "files", sourceName);
    const sourceData = readFileSync(source);
    const sourceRange = ranges[subset].split(",").join(", ");
    let unicodeRange = sourceRange;
    let cut = {};
    if (keep) {
      const made = subsetFont(source, join(fontsDir, file), keep, sourceRange);
      unicodeRange = made.unicode_range;
      cut = {
        subset_of: {
          file: `${name}/files/${sourceName}`,
          unicode_range: sourceRange,
          bytes: sourceData.length,
          sha256: sha256(sourceData),
        },
        kept_ranges: keep,
        layout_features: made.layout_features,
        hinting: made.hinting_tables.length
          ? `as the source: ${made.hinting_tables.join(", ")}`
          : "none, as the source",
        subsetter: `fontTools.subset (${made.subsetter})`,
      };
    } else {
      writeFileSync(join(fontsDir, file), sourceData);
    }
    const data = readFileSync(join(fontsDir, file));
    fontFiles[file] = {
      package: name,
      family,
      subset,
      weight: FONT_WEIGHT,
      style: "normal",
      unicode_range: unicodeRange,
      bytes: data.length,
      sha256: sha256(data),
      ...cut,
    };
    faces.push(
      [
        `/* ${family}, ${subset} (${name} ${font.version}, SIL Open Font License 1.1:\n` +
          `   /static/fonts/${licenseFile}) */`,
        "@font-face {",
        `  font-family: "${family}";`,
        "  font-style: normal;",
        `  font-weight: ${FONT_WEIGHT};`,
        "  font-display: swap;",
        `  src: url("/static/fonts/${file}") format("woff2");`,
        `  unicode-range: ${unicodeRange};`,
        "}",
      ].join("\n")
    );
  }
}
writeJson(join(fontsDir, "fonts.json"), {
  license: "OFL-1.1",
  packages: fontPackages,
  files: Object.fromEntries(Object.entries(fontFiles).sort(([a], [b]) => (a < b ? -1 : 1))),
});
const css = [
  "/* Self-hosted fonts, each drawn only for the characters of its unicode-range.\n" +
    "   Generated by vendor/hpke/build.sh: do not edit. */",
  ...faces,
].join("\n\n") + "\n";
writeFileSync(join(outDir, "fonts.css"), css);
