// Runs the JavaScript decider over the decider corpus and lists every disagreement. Shared by
// the Node runner (run_corpus.mjs) and the Chromium page of test_decider_corpus.py: ``api`` is
// the module namespace of gate/static/js/checkpoint/index.js, imported by each runtime its way.

function number(value) {
  if (value !== null && typeof value === "object" && !Array.isArray(value) && "$number" in value) {
    return Number(value.$number);
  }
  return value;
}

/** JSON text with object keys sorted (the corpus is written with sorted keys). */
function canonical(value) {
  return JSON.stringify(value, (key, inner) =>
    inner !== null && typeof inner === "object" && !Array.isArray(inner)
      ? Object.fromEntries(
          Object.keys(inner)
            .sort()
            .map((k) => [k, inner[k]]),
        )
      : inner,
  );
}

function sameJson(a, b) {
  return canonical(a) === canonical(b);
}

function differences(expected, actual) {
  const out = [];
  for (const key of Object.keys(expected)) {
    const got = actual === null || typeof actual !== "object" ? undefined : actual[key];
    if (!sameJson(expected[key], got === undefined ? "(missing)" : got)) {
      out.push({
        field: key,
        expected: expected[key],
        actual: got === undefined ? "(missing)" : got,
      });
    }
  }
  return out;
}

/** The JavaScript answer to one corpus case (the same shape as its ``expected``). */
export async function runCase(api, corpus, tables, c) {
  const keys = c.keys === undefined ? null : tables.keys(c.keys);
  const at = c.now === undefined ? null : api.parseUtc(c.now);
  switch (c.kind) {
    case "verify":
    case "verify_screen": {
      const check =
        c.kind === "verify"
          ? await api.verifyPass(c.presented, keys, { communityId: c.community_id, now: at })
          : await api.verifyScreenCode(c.presented, keys, at);
      const rejected = check.kind === "rejected";
      return {
        kind: check.kind,
        code: rejected ? check.code : null,
        detail: rejected ? check.detail : null,
        household_id: check.fields?.household_id ?? null,
      };
    }
    case "decide":
    case "screen": {
      let presented = c.presented;
      if (c.kind === "screen") {
        const screen = await api.verifyScreenCode(c.presented, keys, at);
        const issued = c.issued === null ? null : api.issuedPassFromDict(c.issued);
        presented = api.screenPassCheck(screen, issued, keys, {
          communityId: c.community_id,
          now: at,
        });
      }
      return api.decide(presented, {
        keys,
        communityId: c.community_id,
        household: c.household,
        revokedPassIds: c.revoked,
        rules: tables.rules(c.rules),
        direction: c.direction,
        temperature: number(c.temperature),
        now: c.now,
        override: c.override,
        people: c.people ?? 1,
      });
    }
    case "bundle": {
      const bundle =
        c.bundle === null
          ? null
          : api.readBundle(corpus.bundles[c.bundle], {
              fetchedAt: c.fetched_at,
            });
      return api.decideFromBundle(bundle, c.text, {
        direction: c.direction,
        temperature: number(c.temperature),
        now: c.now,
        override: c.override,
        maxBundleAgeMs: c.max_bundle_age_s * 1000,
        localHousehold: c.local === null ? null : () => c.local,
        unlocked: c.unlocked ?? false,
        clockFault: c.clock_fault ?? false,
        localVisitorUse: (text) => (c.entered ?? []).includes(text),
      });
    }
    case "unlock": {
      const bundle = c.bundle === null ? null : api.readBundle(corpus.bundles[c.bundle]);
      const refusal = await api.unlockWithCard(bundle, c.card, {
        now: c.now,
        clockFault: c.clock_fault,
      });
      return refusal === null ? { unlocked: true } : { unlocked: false, ...refusal };
    }
    case "card": {
      const check = api.cardStanding(
        await api.verifySupervisorCard(c.text, keys, { communityId: c.community_id, now: at }),
        {
          known: new Map(c.known.map((state) => [state.card_id, state])),
          revoked: new Set(c.revoked),
        },
      );
      const rejected = check.kind === "rejected";
      return {
        kind: check.kind,
        code: rejected ? check.code : null,
        detail: rejected ? check.detail : null,
        account_id: check.fields?.account_id ?? null,
        card_id: check.fields?.card_id ?? null,
      };
    }
    case "vehicle":
      return api.decideVehicle(c.presented, {
        typedPlate: c.typed,
        keys,
        communityId: c.community_id,
        household: c.household,
        revokedPassIds: c.revoked,
        rules: tables.rules(c.rules),
        direction: c.direction,
        now: c.now,
      });
    case "visitor":
      return api.decideVisitor(c.presented, {
        keys,
        communityId: c.community_id,
        usedPassIds: c.used,
        revokedPassIds: c.revoked,
        rules: tables.rules(c.rules),
        direction: c.direction,
        temperature: number(c.temperature),
        now: c.now,
      });
    case "walk_in":
      return api.decideWalkIn({
        handedOver: c.handed_over,
        rules: tables.rules(c.rules),
        direction: c.direction,
        temperature: number(c.temperature),
      });
    case "plate":
      return api.decidePlate({
        plate: c.plate,
        rules: tables.rules(c.rules),
        direction: c.direction,
      });
    case "rules": {
      try {
        return { ok: true, rules: api.rulesToDict(api.rulesFromDict(c.input)) };
      } catch (error) {
        if (!(error instanceof api.RuleSetError)) throw error;
        return { ok: false, field: error.field, problem: error.problem, params: error.params };
      }
    }
    case "bundle_read": {
      let bundle;
      try {
        bundle = api.readBundle(c.input);
      } catch (error) {
        if (!(error instanceof api.BundleError)) throw error;
        return { ok: false, field: error.field };
      }
      return {
        ok: true,
        content_hash: bundle.content_hash,
        households: [...bundle.households.keys()].sort((a, b) => a - b),
        revoked_pass_ids: [...bundle.revoked_pass_ids].sort(),
        key_ids: bundle.keys.entries.map((entry) => entry.key_id),
        rule_version: bundle.rules.version,
        passes: bundle.passes === null ? null : [...bundle.passes.keys()].sort(),
      };
    }
    default:
      throw new Error(`unknown case kind ${c.kind}`);
  }
}

function tablesOf(api, corpus) {
  const keys = new Map();
  const rules = new Map();
  return {
    keys(name) {
      if (!keys.has(name)) keys.set(name, api.keySetFromList(corpus.keysets[name]));
      return keys.get(name);
    },
    rules(name) {
      if (!rules.has(name)) rules.set(name, api.rulesFromDict(corpus.rulesets[name]));
      return rules.get(name);
    },
  };
}

/**
 * Check ``corpus`` (the parsed JSON) against the decider ``api``. ``select`` picks cases (all by
 * default). Returns {total, agreed, disagreements: [{id, differences | error}], backend}.
 */
export async function checkCorpus(api, corpus, { select = () => true } = {}) {
  const disagreements = [];
  const known = new Set(Object.values(api.Code));
  for (const code of corpus.codes) {
    if (!known.has(code))
      disagreements.push({ id: `codes/${code}`, error: "code unknown to the JavaScript decider" });
  }
  for (const row of corpus.reasons) {
    let text;
    try {
      text = api.reason(row.code, row.lang, row.next_exit);
    } catch (error) {
      text = `(error: ${error.message})`;
    }
    if (text !== row.text) {
      disagreements.push({
        id: `reasons/${row.code}/${row.lang}/${row.next_exit}`,
        differences: [{ field: "text", expected: row.text, actual: text }],
      });
    }
  }
  const tables = tablesOf(api, corpus);
  let total = 0;
  for (const c of corpus.cases) {
    if (!select(c)) continue;
    total += 1;
    try {
      const actual = await runCase(api, corpus, tables, c);
      const found = differences(c.expected, actual);
      if (found.length) disagreements.push({ id: c.id, differences: found });
    } catch (error) {
      disagreements.push({ id: c.id, error: `${error.name}: ${error.message}` });
    }
  }
  const caseFailures = disagreements.filter(
    (d) => !d.id.startsWith("codes/") && !d.id.startsWith("reasons/"),
  );
  return {
    total,
    agreed: total - caseFailures.length,
    disagreements,
    backend: await api.ed25519Backend(),
  };
}

/** A short text of the first ``limit`` disagreements. */
export function describeDisagreements(result, limit = 20) {
  const lines = [];
  for (const d of result.disagreements.slice(0, limit)) {
    if (d.error) lines.push(`${d.id}: ${d.error}`);
    for (const diff of d.differences ?? []) {
      lines.push(
        `${d.id}: ${diff.field}: expected ${JSON.stringify(diff.expected)}, got ${JSON.stringify(diff.actual)}`,
      );
    }
  }
  if (result.disagreements.length > limit)
    lines.push(`... and ${result.disagreements.length - limit} more`);
  return lines.join("\n");
}
