// Pass format v1 (passes/pass_format.py): ``CP1:`` + 146 Base45 characters = 97 bytes:
//
//   offset  size  field
//   0       1     format version, always 0x01 for v1
//   1       2     key id (u16)
//   3       12    pass id (96 random bits)
//   15      4     household id (u32)
//   19      4     community id (u32)
//   23      2     generation (u16)
//   25      4     issued at, Unix seconds UTC (u32)
//   29      4     valid until, Unix seconds UTC (u32), inclusive
//   33      64    Ed25519 signature over SIGNING_CONTEXT + bytes 0..32
//
// All integers big-endian. Parsing proves only the shape: nothing here may be acted on before
// the signature is verified (verification.js).

import { ALPHABET, Base45Error, b45decode } from "./base45.js";
import { Code } from "./codes.js";
import { SECOND_US } from "./timefmt.js";

export const VERSION = 1;
export const PREFIX = "CP1:";
export const BODY_LENGTH = 33;
export const SIGNATURE_LENGTH = 64;
export const TEXT_LENGTH = PREFIX.length + 146;
export const MAX_INPUT_LENGTH = 512;
export const SIGNING_CONTEXT = new TextEncoder().encode("checkpoint/pass/v1\0");

const BASE45_SYMBOLS = new Set(ALPHABET);

/** A refused input (passes.PassError): ``code`` is the verdict code, ``detail`` which check. */
export class PassError extends Error {
  constructor(code, detail) {
    super(`${code}: ${detail}`);
    this.code = code;
    this.detail = detail;
  }
}

/** Code points, as Python's len(); counted only when the UTF-16 length leaves doubt. */
function codePointLength(text, limit) {
  if (text.length <= limit) return text.length;
  let count = 0;
  for (const _ of text) count += 1;
  return count;
}

/** Bytes as lower-case hex (the wire form of pass ids). */
export function toHex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Lower- or upper-case hex to bytes; throws on anything else (Python's bytes.fromhex, without
 * its tolerance of spaces). */
export function fromHex(text) {
  if (typeof text !== "string" || text.length % 2 || !/^[0-9a-fA-F]*$/.test(text)) {
    throw new TypeError("not hex");
  }
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i += 1) out[i] = parseInt(text.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export function concatBytes(a, b) {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

/**
 * The shape shared by every signed QR text (passes.pass_format.open_envelope): ``prefix`` +
 * canonical Base45 of a fixed-length body (first byte ``version``) and a 64-byte signature.
 * Returns {body, signature}; throws PassError(bad_format, detail), cheapest checks first.
 */
export function openEnvelope(text, { prefix, textLength, bodyLength, version }) {
  if (typeof text !== "string") throw new PassError(Code.BAD_FORMAT, "not_text");
  if (codePointLength(text, MAX_INPUT_LENGTH) > MAX_INPUT_LENGTH) {
    throw new PassError(Code.BAD_FORMAT, "oversize");
  }
  if (!text.startsWith(prefix)) {
    const head = Array.from(text).slice(0, prefix.length).join("");
    throw new PassError(
      Code.BAD_FORMAT,
      head.toUpperCase() === prefix ? "lowercase" : "wrong_prefix",
    );
  }
  if (codePointLength(text, 0) !== textLength) throw new PassError(Code.BAD_FORMAT, "wrong_length");
  const payload = text.slice(prefix.length);
  for (const ch of payload) {
    if (!BASE45_SYMBOLS.has(ch)) {
      throw new PassError(Code.BAD_FORMAT, /[a-z]/.test(payload) ? "lowercase" : "bad_character");
    }
  }
  let raw;
  try {
    raw = b45decode(payload);
  } catch (error) {
    if (error instanceof Base45Error) throw new PassError(Code.BAD_FORMAT, "bad_base45");
    throw error;
  }
  if (raw.length !== bodyLength + SIGNATURE_LENGTH) {
    throw new PassError(Code.BAD_FORMAT, "wrong_length");
  }
  const body = raw.slice(0, bodyLength);
  if (body[0] !== version) throw new PassError(Code.BAD_FORMAT, "unknown_version");
  return { body, signature: raw.slice(bodyLength) };
}

/**
 * Parse the exact v1 shape (passes.parse_pass); throws PassError (bad_format) otherwise.
 * Returns {fields, body, signature}; ``fields`` = {version, key_id, pass_id (Uint8Array),
 * pass_id_hex, household_id, community_id, generation, issued_at, valid_until (microseconds)}.
 */
export function parsePass(text) {
  const { body, signature } = openEnvelope(text, {
    prefix: PREFIX,
    textLength: TEXT_LENGTH,
    bodyLength: BODY_LENGTH,
    version: VERSION,
  });
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const passId = body.slice(3, 15);
  const fields = Object.freeze({
    version: view.getUint8(0),
    key_id: view.getUint16(1),
    pass_id: passId,
    pass_id_hex: toHex(passId),
    household_id: view.getUint32(15),
    community_id: view.getUint32(19),
    generation: view.getUint16(23),
    issued_at: view.getUint32(25) * SECOND_US,
    valid_until: view.getUint32(29) * SECOND_US,
  });
  if (fields.valid_until < fields.issued_at) throw new PassError(Code.BAD_FORMAT, "bad_field");
  return { fields, body, signature };
}

/** What a pass signature covers. */
export function signedMessage(body) {
  return concatBytes(SIGNING_CONTEXT, body);
}
