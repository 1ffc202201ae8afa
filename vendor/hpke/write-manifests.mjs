// Called by build.sh: node write-manifests.mjs OUT_DIR VECTORS_JSON
// Checks OUT_DIR/hpke.min.js (its exports, and the project's known-answer vectors), then
// writes OUT_DIR/hpke.min.js.json, OUT_DIR/fonts.json and OUT_DIR/fonts.css.
// Everything written is a function of the inputs only (no dates, no absolute paths).
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runInThisContext } from "node:vm";
import { gzipSync } from "node:zlib";

const [outDir, vectorsPath] = process.argv.slice(2);
const EXPORTS = ["Aes256Gcm", "CipherSuite", "HkdfSha256", "XWing", "sha256"];
const FONT_PACKAGE = "@fontsource/noto-sans-arabic";
const FONT_WEIGHTS = [400];

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

// --- The font ---------------------------------------------------------------------------

const font = installed(FONT_PACKAGE);
const files = {};
for (const weight of FONT_WEIGHTS) {
  const name = `noto-sans-arabic-arabic-${weight}.woff2`;
  const data = readFileSync(join(outDir, name));
  files[name] = { weight, style: "normal", subset: "arabic", bytes: data.length, sha256: sha256(data) };
}
const license = readFileSync(join(outDir, "OFL.txt"));
files["OFL.txt"] = { bytes: license.length, sha256: sha256(license) };
writeJson(join(outDir, "fonts.json"), {
  name: FONT_PACKAGE,
  family: "Noto Sans Arabic",
  version: font.version,
  integrity: font.integrity,
  license: "OFL-1.1",
  files,
});

const range = readJson(join("node_modules", FONT_PACKAGE, "unicode.json")).arabic;
if (!range) fail(`${FONT_PACKAGE} has no "arabic" range in unicode.json`);
const css = [
  `/* Noto Sans Arabic (${FONT_PACKAGE} ${font.version}, SIL Open Font License 1.1: see\n` +
    "   /static/fonts/OFL.txt), Arabic subset only. Generated by vendor/hpke/build.sh: do not edit. */",
  ...FONT_WEIGHTS.map((weight) =>
    [
      "@font-face {",
      '  font-family: "Noto Sans Arabic";',
      "  font-style: normal;",
      `  font-weight: ${weight};`,
      "  font-display: swap;",
      `  src: url("/static/fonts/noto-sans-arabic-arabic-${weight}.woff2") format("woff2");`,
      `  unicode-range: ${range.split(",").join(", ")};`,
      "}",
    ].join("\n")
  ),
].join("\n\n") + "\n";
writeFileSync(join(outDir, "fonts.css"), css);
