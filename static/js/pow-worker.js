/* Solves a proof-of-work challenge off the page's main thread and reports progress.
 * The twin of hrd_reports.crypto.pow: find a counter such that SHA-256(challenge || counter,
 * 8 bytes big-endian) starts with ``difficulty`` zero bits. */
"use strict";

function leadingZeroBits(digest) {
  let bits = 0;
  for (const byte of digest) {
    if (byte !== 0) return bits + Math.clz32(byte) - 24;
    bits += 8;
  }
  return bits;
}

self.onmessage = async function (event) {
  const challenge = event.data.challenge;
  const difficulty = event.data.difficulty;
  const prefix = new TextEncoder().encode(challenge);
  const expected = Math.pow(2, difficulty);
  const batch = 512;
  let counter = 0;
  try {
    for (;;) {
      const attempts = [];
      for (let i = 0; i < batch; i++) {
        const input = new Uint8Array(prefix.length + 8);
        input.set(prefix, 0);
        new DataView(input.buffer).setBigUint64(prefix.length, BigInt(counter + i), false);
        attempts.push(crypto.subtle.digest("SHA-256", input));
      }
      const digests = await Promise.all(attempts);
      for (let i = 0; i < batch; i++) {
        if (leadingZeroBits(new Uint8Array(digests[i])) >= difficulty) {
          self.postMessage({ counter: counter + i });
          return;
        }
      }
      counter += batch;
      // The chance of having found it by now: a progress bar that never stalls at 99 %.
      self.postMessage({ progress: 1 - Math.exp(-counter / expected) });
    }
  } catch (error) {
    self.postMessage({ error: String(error) });
  }
};
