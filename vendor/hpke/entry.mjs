// Entry point of static/vendor/hpke.min.js (built by build.sh into a classic script that
// defines one global, `HPKE`). Export only what the page needs: anything else added here
// ends up in every reporter's browser.
export { Aes256Gcm, CipherSuite, HkdfSha256 } from "@hpke/core";
export { XWing } from "@hpke/hybridkem-x-wing";
