// Ed25519 signature checks: WebCrypto (crypto.subtle, "Ed25519") where the runtime has it
// (recent Chromium, Node 20), else the vendored noble-ed25519 (MIT, gate/static/vendor/
// noble-ed25519/) in its strict RFC 8032 mode. Either way a signature with a non-canonical S
// is refused, as the server's OpenSSL refuses it.

let chosen = null; // Promise of a backend: {name, verify(publicKey, message, signature)}
let forced = "auto";

const WEBCRYPTO_PROBE_KEY = new Uint8Array([
  // RFC 8032 test 1 public key: a known good point, to learn whether importKey works here.
  0xd7, 0x5a, 0x98, 0x01, 0x82, 0xb1, 0x0a, 0xb7, 0xd5, 0x4b, 0xfe, 0xd3, 0xc9, 0x64, 0x07, 0x3a,
  0x0e, 0xe1, 0x72, 0xf3, 0xda, 0xa6, 0x23, 0x25, 0xaf, 0x02, 0x1a, 0x68, 0xf7, 0x07, 0x51, 0x1a,
]);

async function subtle() {
  if (globalThis.crypto?.subtle) return globalThis.crypto.subtle;
  // Node before 19 keeps WebCrypto in node:crypto; a browser without it refuses the import.
  const node = await import("node:crypto").catch(() => null);
  return node?.webcrypto?.subtle ?? null;
}

async function webcryptoBackend() {
  const api = await subtle();
  if (api === null) return null;
  try {
    await api.importKey("raw", WEBCRYPTO_PROBE_KEY, { name: "Ed25519" }, false, ["verify"]);
  } catch {
    return null;
  }
  const keys = new Map(); // hex of the raw key -> Promise<CryptoKey | null>
  return {
    name: "webcrypto",
    async verify(publicKey, message, signature) {
      const id = Array.from(publicKey, (b) => b.toString(16).padStart(2, "0")).join("");
      let key = keys.get(id);
      if (key === undefined) {
        key = api
          .importKey("raw", publicKey, { name: "Ed25519" }, false, ["verify"])
          .catch(() => null);
        keys.set(id, key);
      }
      const loaded = await key;
      if (loaded === null) return false;
      try {
        return await api.verify({ name: "Ed25519" }, loaded, signature, message);
      } catch {
        return false;
      }
    },
  };
}

async function nobleBackend() {
  const api = await subtle();
  if (api === null) {
    // noble hashes with WebCrypto's SHA-512 too. Without it every signature would look forged:
    // refuse to decide at all instead (a browser has WebCrypto only over HTTPS or localhost).
    throw new Error("no WebCrypto here: the decider needs a secure context (HTTPS)");
  }
  const noble = await import("../../vendor/noble-ed25519/index.js");
  if (!globalThis.crypto?.subtle) {
    noble.hashes.sha512Async = async (message) =>
      new Uint8Array(await api.digest("SHA-512", message));
  }
  return {
    name: "noble",
    async verify(publicKey, message, signature) {
      try {
        return await noble.verifyAsync(signature, message, publicKey, { zip215: false });
      } catch {
        return false;
      }
    },
  };
}

async function pick() {
  if (forced === "noble") return nobleBackend();
  const native = await webcryptoBackend();
  if (native !== null) return native;
  if (forced === "webcrypto") throw new Error("this runtime has no WebCrypto Ed25519");
  return nobleBackend();
}

function backend() {
  if (chosen === null) {
    chosen = pick();
    chosen.catch(() => {
      chosen = null; // try again next time (e.g. the noble file could not be loaded offline)
    });
  }
  return chosen;
}

/** Choose the implementation: "auto" (default: WebCrypto if it works, else noble),
 * "webcrypto" or "noble". For tests and for a page that wants to report which one it uses. */
export function useEd25519(name) {
  if (!["auto", "webcrypto", "noble"].includes(name))
    throw new RangeError(`unknown backend ${name}`);
  forced = name;
  chosen = null;
}

/** The name of the implementation in use ("webcrypto" or "noble"). Call it once while online:
 * it loads the vendored noble file if this browser needs it, so that it is cached. */
export async function ed25519Backend() {
  return (await backend()).name;
}

/** True iff ``signature`` (64 bytes) is the Ed25519 signature of ``message`` by the 32-byte
 * ``publicKey``; false for anything malformed. Rejects (rather than answer false) only when
 * this runtime can check no Ed25519 signature at all: a decision then fails loudly instead of
 * calling every pass forged. */
export async function verifyEd25519(publicKey, message, signature) {
  if (publicKey.length !== 32 || signature.length !== 64) return false;
  return (await backend()).verify(publicKey, message, signature);
}
