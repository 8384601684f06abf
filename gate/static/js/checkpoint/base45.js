// Base45 (RFC 9285), as passes/base45.py: canonical decoding only, so one pass has one text.

export const ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";
const VALUE = new Map([...ALPHABET].map((symbol, index) => [symbol, index]));

/** The text is not canonical Base45 (passes.base45.Base45Error). */
export class Base45Error extends Error {}

/** Encode bytes (Uint8Array); the result uses only ALPHABET. */
export function b45encode(data) {
  let out = "";
  for (let i = 0; i + 1 < data.length; i += 2) {
    let n = data[i] * 256 + data[i + 1];
    const c = n % 45;
    n = Math.floor(n / 45);
    out += ALPHABET[c] + ALPHABET[n % 45] + ALPHABET[Math.floor(n / 45)];
  }
  if (data.length % 2) {
    const last = data[data.length - 1];
    out += ALPHABET[last % 45] + ALPHABET[Math.floor(last / 45)];
  }
  return out;
}

/**
 * Decode canonical Base45 to a Uint8Array. Throws Base45Error for a character outside the
 * alphabet, a length of 3k+1, or a group whose value does not fit its bytes.
 */
export function b45decode(text) {
  const symbols = [...text];
  if (symbols.length % 3 === 1) throw new Base45Error("length is 3k+1");
  const values = symbols.map((symbol) => {
    const value = VALUE.get(symbol);
    if (value === undefined) throw new Base45Error(`character ${symbol} is not Base45`);
    return value;
  });
  const whole = values.length - (values.length % 3);
  const out = new Uint8Array((whole / 3) * 2 + (whole < values.length ? 1 : 0));
  let o = 0;
  for (let i = 0; i < whole; i += 3) {
    const n = values[i] + values[i + 1] * 45 + values[i + 2] * 2025;
    if (n > 0xffff) throw new Base45Error("group exceeds two bytes");
    out[o++] = n >> 8;
    out[o++] = n & 0xff;
  }
  if (whole < values.length) {
    const n = values[whole] + values[whole + 1] * 45;
    if (n > 0xff) throw new Base45Error("group exceeds one byte");
    out[o++] = n;
  }
  return out;
}
