// The JavaScript decider's own API contract, beyond what the corpus compares with Python:
// the forms ``now`` may take, advance's milliseconds, the time format, overrides. Run by
// tests/js/test_decider_corpus.py (node tests/js/api_checks.mjs); prints "ok N" when all pass.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

import * as api from "../../gate/static/js/checkpoint/index.js";

const here = dirname(fileURLToPath(import.meta.url));
const corpus = JSON.parse(
  gunzipSync(readFileSync(join(here, "corpus", "decide_cases.json.gz"))).toString("utf8"),
);
const checks = [];
const check = (name, run) => checks.push([name, run]);

const sample = corpus.cases.find(
  (c) => c.kind === "decide" && c.expected.allowed && c.expected.next_exit_at !== null,
);
const inputs = (now) => ({
  keys: corpus.keysets[sample.keys],
  communityId: sample.community_id,
  household: sample.household,
  revokedPassIds: sample.revoked,
  rules: corpus.rulesets[sample.rules],
  direction: sample.direction,
  temperature: sample.temperature,
  now,
  override: sample.override,
});

check("now may be a Date, an ISO text or epoch seconds", async () => {
  const iso = await api.decide(sample.presented, inputs(sample.now));
  const date = await api.decide(sample.presented, inputs(new Date(sample.now)));
  const seconds = await api.decide(sample.presented, inputs(Date.parse(sample.now) / 1000));
  assert.deepEqual(date, iso);
  assert.deepEqual(seconds, iso);
});

check("a now that is no time is refused, not guessed", async () => {
  for (const now of [undefined, null, "2026-11-22T08:00:00", new Date(NaN), "soon"]) {
    await assert.rejects(api.decide(sample.presented, inputs(now)));
  }
});

check("a blank override is refused as Python refuses it", async () => {
  for (const override of [
    { supervisor: " ", reason: "x" },
    { supervisor: "x", reason: "" },
  ]) {
    await assert.rejects(
      api.decide(sample.presented, { ...inputs(sample.now), override }),
      TypeError,
    );
  }
});

check("times keep their microseconds both ways", () => {
  for (const text of [
    "2026-11-22T08:00:00Z",
    "2026-11-22T08:00:00.000001Z",
    "1999-12-31T23:59:59.999999Z",
  ]) {
    assert.equal(api.formatUtc(api.parseUtc(text)), text);
  }
  assert.equal(
    api.formatUtc(api.parseUtc("2026-11-22T16:00:00.5+08:00")),
    "2026-11-22T08:00:00.500000Z",
  );
  assert.throws(() => api.parseUtc("2026-11-22T08:00:00"), RangeError);
  assert.throws(() => api.parseUtc("2026-02-30T08:00:00Z"), RangeError);
});

check("advance takes a Date, an ISO text or milliseconds alike", () => {
  const rules = api.rulesFromDict({ version: 1 });
  const state = api.householdFromDict({ household_id: 5 });
  const at = "2026-11-22T08:00:00.123Z";
  const byText = api.householdToDict(api.advance(state, "out", true, at, rules));
  assert.deepEqual(
    api.householdToDict(api.advance(state, "out", true, new Date(at), rules)),
    byText,
  );
  assert.deepEqual(
    api.householdToDict(api.advance(state, "out", true, Date.parse(at), rules)),
    byText,
  );
  assert.deepEqual(byText.out_since, ["2026-11-22T08:00:00.123000Z"]);
  assert.equal(api.advance(state, "out", false, at, rules), state);
});

check("a supervisor card override names the card and checks its reason", () => {
  const card = corpus.cases.find((c) => c.kind === "card" && c.expected.kind === "card").text;
  const override = api.cardOverride(card, "  就医  ");
  assert.equal(override.reason, "就医");
  assert.match(override.supervisor, /^主管卡 [0-9A-F]{8}$/);
  assert.equal(api.cardOverride("SV1:garbage", "x").supervisor, "主管卡");
  assert.throws(() => api.cardOverride(card, "   "), RangeError);
  assert.throws(() => api.cardOverride(card, "很".repeat(501)), RangeError);
});

check("readBundle dates the bundle's age from its fetch", () => {
  const json = Object.values(corpus.bundles)[0];
  const bundle = api.readBundle(JSON.stringify(json), { fetchedAt: "2026-11-23T00:00:00Z" });
  assert.equal(bundle.fetched_at.toISOString(), "2026-11-23T00:00:00.000Z");
  assert.equal(
    api.readBundle(json).fetched_at.getTime(),
    api.readBundle(json).generated_at.getTime(),
  );
  assert.throws(() => api.readBundle({ ...json, format: "checkpoint.bundle.v0" }), api.BundleError);
});

check("every Python code has both reasons", () => {
  for (const code of corpus.codes) {
    assert.ok(api.reason(code, "zh").length > 0);
    assert.ok(api.reason(code, "en").length > 0);
  }
});

let failed = 0;
for (const [name, run] of checks) {
  try {
    await run();
  } catch (error) {
    failed += 1;
    console.log(`FAIL ${name}: ${error.message}`);
  }
}
console.log(failed ? `failed ${failed} of ${checks.length}` : `ok ${checks.length}`);
process.exit(failed ? 1 : 0);
