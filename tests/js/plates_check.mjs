// Checks gate/static/js/checkpoint/plates.js against tests/passes/vectors/plates_v1.json
// (the table passes/plates.py is tested with); prints one JSON line {total, failures}.
import { readFileSync } from "node:fs";
import { parsePlate, PlateError } from "../../gate/static/js/checkpoint/plates.js";

const table = JSON.parse(readFileSync(new URL("../passes/vectors/plates_v1.json", import.meta.url)));
const failures = [];
for (const c of table.valid) {
  try {
    const plate = parsePlate(c.input);
    if (plate.text !== c.plate || plate.kind !== c.kind) failures.push({ case: c, got: plate });
  } catch (error) {
    failures.push({ case: c, got: String(error.code ?? error) });
  }
}
for (const c of table.invalid) {
  try {
    failures.push({ case: c, got: parsePlate(c.input) });
  } catch (error) {
    if (!(error instanceof PlateError) || error.code !== c.problem) {
      failures.push({ case: c, got: String(error.code ?? error) });
    }
  }
}
const extra = process.argv.slice(2);
const answers = extra.length ? JSON.parse(readFileSync(extra[0], "utf-8")).map((text) => {
  try {
    const plate = parsePlate(text);
    return { plate: plate.text, kind: plate.kind };
  } catch (error) {
    return { problem: error.code };
  }
}) : [];
console.log(JSON.stringify({ total: table.valid.length + table.invalid.length, failures, answers }));
