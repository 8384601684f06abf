// Node runner of the decider corpus: node tests/js/run_corpus.mjs [--backend=auto|webcrypto|noble]
// [--kind=decide,bundle,...] [--corpus=other.json[.gz]] [--json]. Exit status 0 only at 100%
// agreement.

import { readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

import * as api from "../../gate/static/js/checkpoint/index.js";
import { checkCorpus, describeDisagreements } from "./corpus_check.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const option = (name, fallback) => {
  const found = process.argv.find((arg) => arg.startsWith(`--${name}=`));
  return found === undefined ? fallback : found.slice(name.length + 3);
};

const path = option("corpus", join(here, "corpus", "decide_cases.json.gz"));
const raw = readFileSync(path);
const corpus = JSON.parse((path.endsWith(".gz") ? gunzipSync(raw) : raw).toString("utf8"));
api.useEd25519(option("backend", "auto"));
const kinds = option("kind", null);
const select = kinds === null ? () => true : (c) => kinds.split(",").includes(c.kind);
const result = await checkCorpus(api, corpus, { select });
if (process.argv.includes("--json")) {
  console.log(
    JSON.stringify({
      ...result,
      disagreements: result.disagreements.slice(0, 50),
      node: process.version,
    }),
  );
} else {
  console.log(
    `${result.agreed}/${result.total} cases agree (Ed25519: ${result.backend}, Node ${process.version})`,
  );
  if (result.disagreements.length) console.log(describeDisagreements(result));
}
process.exit(result.disagreements.length === 0 && result.total > 0 ? 0 : 1);
