// Replaces Node's "crypto" module in the browser bundle (esbuild --alias:crypto=...).
// @hpke/* and mlkem only import("crypto") as a fallback for Node <= 18 when
// globalThis.crypto is missing. Browsers always have globalThis.crypto, so this is never
// reached there; if it ever were, `webcrypto.subtle` throws and the library fails closed
// ("Failed to load Crypto") instead of the bundle carrying a dynamic import().
export const webcrypto = undefined;
