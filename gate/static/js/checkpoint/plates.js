// Mainland Chinese licence plates (passes/plates.py): normalise typed text, check its form.
// Both are checked against tests/passes/vectors/plates_v1.json; see the Python module for the
// table of forms. parsePlate(text) returns {text, kind} or throws PlateError with .code.

export const PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼";
export const AUTHORITY_LETTERS = "ABCDEFGHJKLMNOPQRSTUVWXYZ";
export const SERIAL_CHARACTERS = "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ";
export const SUFFIXES = "警学挂领港澳";
export const MAX_PLATE_INPUT = 32;

export const PlateProblem = Object.freeze({
  EMPTY: "plate_empty",
  TOO_LONG: "plate_too_long",
  PROVINCE: "plate_province",
  AUTHORITY: "plate_authority",
  CHARACTERS: "plate_characters",
  LENGTH: "plate_length",
  FORM: "plate_form",
});

const SEPARATORS = /[ \t\n\r\f\v·•.\-_]+/gu;
const SERIAL = "[0-9A-HJ-NP-Z]";
const FORMS = [
  ["ordinary", `[${PROVINCES}][A-HJ-Z]${SERIAL}{5}`],
  ["new_energy", `[${PROVINCES}][A-HJ-Z][DABCEFGHJK]${SERIAL}[0-9]{4}`],
  ["new_energy", `[${PROVINCES}][A-HJ-Z][0-9]{5}[DF]`],
  ["police", `[${PROVINCES}][A-HJ-Z]${SERIAL}{4}警`],
  ["learner", `[${PROVINCES}][A-HJ-Z]${SERIAL}{4}学`],
  ["trailer", `[${PROVINCES}][A-HJ-Z]${SERIAL}{4}挂`],
  ["consulate", `[${PROVINCES}][A-HJ-Z][0-9]{4}领`],
  ["hong_kong", `粤Z${SERIAL}{4}港`],
  ["macau", `粤Z${SERIAL}{4}澳`],
  ["embassy", "使[0-9]{6}"],
].map(([kind, source]) => [kind, new RegExp(`^(?:${source})$`, "u")]);

export class PlateError extends Error {
  constructor(code) {
    super(code);
    this.name = "PlateError";
    this.code = code;
  }
}

function chars(text) {
  return Array.from(text);
}

/** The typed text in canonical form (need not be a plate); never throws. */
export function normalisePlate(text) {
  let folded = chars(String(text)).slice(0, MAX_PLATE_INPUT * 2).join("");
  folded = folded.normalize("NFKC").toUpperCase().replace(SEPARATORS, "").replaceAll("〇", "0");
  const all = chars(folded);
  if (all[0] === "使") {
    return "使" + all.slice(1).join("").replaceAll("O", "0").replaceAll("I", "1");
  }
  const head = all.slice(0, 1).join("");
  let authority = all.slice(1, 2).join("");
  if (authority === "0") authority = "O";
  const serial = all.slice(2).join("").replaceAll("O", "0").replaceAll("I", "1");
  return head + authority + serial;
}

/** {text, kind, prefix} for a plate; throws PlateError with a PlateProblem code otherwise. */
export function parsePlate(text) {
  if (chars(String(text)).length > MAX_PLATE_INPUT * 2) throw new PlateError(PlateProblem.TOO_LONG);
  const plate = normalisePlate(text);
  if (plate === "") throw new PlateError(PlateProblem.EMPTY);
  if (chars(plate).length > MAX_PLATE_INPUT) throw new PlateError(PlateProblem.TOO_LONG);
  for (const [kind, pattern] of FORMS) {
    if (pattern.test(plate)) {
      const prefix = kind === "embassy" ? plate.slice(0, 1) : chars(plate).slice(0, 2).join("");
      return Object.freeze({ text: plate, kind, prefix });
    }
  }
  throw new PlateError(problem(plate));
}

/** null if text is a plate, else its PlateProblem code (live feedback while typing). */
export function plateProblem(text) {
  try {
    parsePlate(text);
    return null;
  } catch (error) {
    if (error instanceof PlateError) return error.code;
    throw error;
  }
}

/** Whether a checked plate's text starts with one of the local prefixes (鲁E, or 鲁). */
export function isLocalPlate(plateText, localPrefixes) {
  return localPrefixes.some((prefix) => plateText.startsWith(prefix));
}

function problem(plate) {
  const all = chars(plate);
  if (all[0] === "使") {
    return /^[0-9]+$/u.test(all.slice(1).join("")) ? PlateProblem.LENGTH : PlateProblem.CHARACTERS;
  }
  if (!PROVINCES.includes(all[0])) return PlateProblem.PROVINCE;
  if (all.length < 2 || !AUTHORITY_LETTERS.includes(all[1])) return PlateProblem.AUTHORITY;
  const body = all.slice(2);
  const last = body.length > 0 && SUFFIXES.includes(body[body.length - 1]) ? 1 : 0;
  const serial = body.slice(0, body.length - last);
  if (serial.some((ch) => !SERIAL_CHARACTERS.includes(ch))) return PlateProblem.CHARACTERS;
  if (last ? serial.length !== 4 : serial.length !== 5 && serial.length !== 6) {
    return PlateProblem.LENGTH;
  }
  return PlateProblem.FORM;
}
