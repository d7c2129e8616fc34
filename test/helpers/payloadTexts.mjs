// Payload texts for the checks of the addon's frame encoding against frame.ts's
// (test/journal/encodeFrame.test.ts here, test/fixtures/frameEncodingCheck.mjs in Node for
// arm64): plain JavaScript, so that a fixture run by another Node can import it.

/** A deterministic string of `length` UTF-16 units drawn from `alphabet`. */
export function text(length, alphabet, seed) {
  let state = seed;
  let out = '';
  for (let i = 0; i < length; i++) {
    state = (state * 1103515245 + 12345) >>> 0;
    out += alphabet[state % alphabet.length];
  }
  return out;
}

/** Printable ASCII. */
export const ascii = Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i));
/** Some of it, with characters of two, three and four UTF-8 bytes and a line separator. */
export const unicode = [...ascii.slice(0, 20), 'é', 'ü', '€', '中', '😀', '\u2028'];
