// Entry point of static/vendor/hpke.min.js (built by build.sh into a classic script that
// defines one global, `HPKE`). Export only what the page needs: anything else added here
// ends up in every reporter's browser.
export { Aes256Gcm, CipherSuite, HkdfSha256 } from "@hpke/core";
export { XWing } from "@hpke/hybridkem-x-wing";
// Incremental SHA-256 of evidence files (100 MB and more): WebCrypto's digest() takes the
// whole input at once, which a phone cannot hold in memory.
export { sha256 } from "@noble/hashes/sha2.js";
