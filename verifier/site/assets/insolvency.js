/*
 * por-insolvency-proof-v1 verifier for the browser (docs/spec/por-insolvency-v1.md).
 *
 * A customer's bundle holds two por-mst-v1 proofs: their claim (in the claims tree) and
 * their distribution (in the distribution tree). This script checks the bundle against the
 * plan embedded in the page (plan.json, por-plan-v1), with the tree checks of verify.js
 * (PorVerify) and its own copy of the distribution rule in BigInt: it is the browser's
 * mirror of verifier/insolvency/rules.py, and tests/unit/test_insolvency_js.py proves that
 * both give the same numbers on many cases. A classic script defining
 * `globalThis.PorInsolvency`, so it runs in a page and under Node 20 (vm) alike.
 *
 * Every check runs and is reported by name, {name, ok, detail}, as `por insolvency verify`
 * names them:
 *   "bundle"              the file is a por-insolvency-proof-v1 bundle for this plan
 *   "plan_id"             the plan's id recomputes (SHA-256 of its canonical JSON, RFC 8785)
 *   "claim proof"         the claim proof verifies and its commitment is the plan's claims one
 *   "claim leaf"          the claim is one leaf (split 1): its leaf hash orders the remainder
 *   "claims totals"       the claims tree's root sums equal the plan's claim totals
 *   "plan figures"        the plan's figures agree (D = min(available, T), totals, ratios)
 *   "distribution proof"  the distribution proof verifies to the plan's distribution root
 *   "distribution rule"   per asset the distribution = the rule applied to the claim
 *   "distribution totals" the distribution tree's root sums equal the plan's totals
 *   "account"             both proofs carry the same account id
 */
(function (global) {
  "use strict";

  var FORMAT = "por-insolvency-proof-v1";
  var PLAN_FORMAT = "por-plan-v1";
  var DECIMAL = /^(0|[1-9][0-9]*)$/;
  var PRICE = /^(0|[1-9][0-9]*)(\.[0-9]+)?$/;
  var encoder = new TextEncoder();

  function V() {
    if (!global.PorVerify) throw new Error("verify.js must be loaded before insolvency.js");
    return global.PorVerify;
  }

  function isObject(v) { return v !== null && typeof v === "object" && !Array.isArray(v); }

  function big(v, where) {
    if (typeof v === "string" && DECIMAL.test(v) && v.length <= 80) return BigInt(v);
    if (typeof v === "number" && Number.isSafeInteger(v) && v >= 0) return BigInt(v);
    throw new Error(where + ": expected a non-negative integer string, got " + JSON.stringify(v));
  }

  // ------------------------------------------------------------------ canonical JSON

  /** RFC 8785 for the values a plan holds (strings, safe integers, booleans, null). */
  function canonical(value) {
    if (value === null || typeof value === "boolean" || typeof value === "string") {
      return JSON.stringify(value);
    }
    if (typeof value === "number") {
      if (!Number.isSafeInteger(value)) throw new Error("a number that is not a safe integer: " + value);
      return JSON.stringify(value);
    }
    if (Array.isArray(value)) return "[" + value.map(canonical).join(",") + "]";
    var keys = Object.keys(value).sort();  // UTF-16 code unit order, as RFC 8785 says
    return "{" + keys.map(function (k) { return JSON.stringify(k) + ":" + canonical(value[k]); }).join(",") + "}";
  }

  async function planId(plan) {
    var copy = {};
    Object.keys(plan).forEach(function (k) { if (k !== "plan_id") copy[k] = plan[k]; });
    var digest = await V().sha256(encoder.encode(canonical(copy)));
    return "sha256:" + V().bytesToHex(digest);
  }

  // ------------------------------------------------------------------ the rule

  /**
   * One customer's share of one pool: floor(x·D/T), plus one unit when their remainder
   * r = x·D mod T comes before the plan's cutoff (larger r first, then the smaller claim
   * leaf hash). T = 0 (nobody is owed anything) gives 0.
   */
  function share(claim, distributable, total, leafHash, cutoff) {
    if (total === 0n) return 0n;
    var product = claim * distributable;
    var q = product / total;
    var r = product % total;
    if (cutoff === null || cutoff === undefined || r === 0n) return q;
    var cr = big(cutoff.remainder, "cutoff.remainder");
    var bonus = r > cr || (r === cr && leafHash <= cutoff.leaf_hash);
    return bonus ? q + 1n : q;
  }

  /** A decimal price string as (integer, scale): "1234.5" -> [12345n, 1]. */
  function scaled(text, where) {
    if (typeof text !== "string" || !PRICE.test(text) || text.length > 80) {
      throw new Error(where + ": expected a decimal price string, got " + JSON.stringify(text));
    }
    var parts = text.split(".");
    var frac = parts[1] || "";
    return [BigInt(parts[0] + frac), frac.length];
  }

  /**
   * floor(Σ_a units_a · price_a · 10^currencyDecimals / 10^decimals_a), exactly: the value
   * of a customer's claim (or unpaid part) in the currency's minor units.
   */
  function valueOf(unitsByAsset, decimals, prices, currencyDecimals) {
    var terms = [];
    var top = 0;
    Object.keys(unitsByAsset).forEach(function (code) {
      var units = unitsByAsset[code];
      if (units === 0n) return;
      if (!Object.prototype.hasOwnProperty.call(prices, code)) {
        throw new Error("the plan has no price for " + code);
      }
      var p = scaled(prices[code], "prices." + code);
      var exp = decimals[code] + p[1];
      terms.push([units * p[0], exp]);
      if (exp > top) top = exp;
    });
    var numerator = 0n;
    terms.forEach(function (t) { numerator += t[0] * 10n ** BigInt(top - t[1]); });
    return numerator * 10n ** BigInt(currencyDecimals) / 10n ** BigInt(top);
  }

  // ------------------------------------------------------------------ checks

  function Checks() { this.list = []; }
  Checks.prototype.add = function (name, ok, detail) {
    this.list.push({ name: name, ok: !!ok, detail: detail });
    return ok;
  };
  Checks.prototype.failed = function () {
    return this.list.filter(function (c) { return !c.ok; }).map(function (c) { return c.name; });
  };

  async function runTree(proof, options) {
    var v = await V().checkProof(proof, options);
    return v;
  }

  async function leafHashOf(proof) {
    var leaf = proof.leaves[0];
    var acct = await V().accountHash(proof.account_id);
    var balances = leaf.balances.map(function (b, i) { return big(b, "leaves[0].balances[" + i + "]"); });
    return V().bytesToHex(await V().leafHash(V().hexToBytes(leaf.salt), acct, balances));
  }

  // ------------------------------------------------------------------ the plan's schema

  // plan.json key by key, as verifier/insolvency/plan_schema.py reads it: unknown keys,
  // wrong types and unbounded numbers are refused before any arithmetic (a decimals of
  // 10**6 would make 10n ** 1000000n).
  var MAX_UNITS = 1n << 128n;
  var CODE = /^[A-Z0-9._-]{1,16}$/;
  var HEX64 = /^[0-9a-f]{64}$/;
  var UNITS = /^(0|[1-9][0-9]{0,38})$/;
  var PLAN_PRICE = /^(0|[1-9][0-9]{0,39})(\.[0-9]{1,40})?$/;
  var SHORT = /^[^\x00-\x1f\x7f]{0,1000}$/;
  var REMAINDER = { rule: "short", units: "units", cutoff: { nullable: { obj: { remainder: "units", leaf_hash: "hex64" } } } };
  var RATIO = { nullable: { obj: { exact: "ratio", percent: "short" } } };
  var PLAN_SCHEMA = { obj: {
    plan: "format", plan_id: "planid", exchange: { nullable: "short" }, policy: "policy",
    sell_surplus: "flag",
    claims: { obj: { attestation_id: "short", commitment: "hex64", as_of: "short", customers: "count",
      totals: { map: "units" }, root: "object", sha256: "hex64" } },
    valuation: { nullable: { obj: { date: "short", currency: "code", currency_decimals: "dec18",
      prices: { map: "price" } } } },
    estate: { obj: { file: "short", sha256: "hex64", policy: "policy", sell_surplus: "flag",
      assets: { map: { obj: { on_chain: "units", recovered: "units", available: "units" } } },
      fiat: { obj: { recovered: "units", reserve: "units", insurance: "units" } },
      deductions: { list: { obj: { label: "short", kind: "kind", amount: "units" } }, max: 10000 },
      deductions_total: "units",
      sources: { map: { obj: { file: "short", sha256: "hex64" } }, keys: "short" } } },
    assets: { list: { obj: { code: "code", decimals: "dec36", total_claims: "units", available: "units",
      distributable: "units", ratio: RATIO, in_kind: "flag", remainder: { obj: REMAINDER },
      distributed_total: "units", surplus: "units", sold_value: "units" } }, min: 1, max: 255 },
    fiat: { nullable: { obj: { currency: "code", decimals: "dec18", basis: "basis", cash: "units",
      sold: "units", deductions: "units", pool: "units", claims_value: "units", distributable: "units",
      ratio: RATIO, remainder: { obj: REMAINDER }, distributed_total: "units" } } },
    distribution: { obj: { attestation_id: "short", root: "object", totals: { map: "units" } } },
    rules_text: { list: "string", max: 100 },
    files: { map: "hex64", keys: "short" },
  } };

  function leafOk(kind, v) {
    switch (kind) {
      case "units": return typeof v === "string" && UNITS.test(v) && BigInt(v) < MAX_UNITS;
      case "dec36": return Number.isSafeInteger(v) && v >= 0 && v <= 36;
      case "dec18": return Number.isSafeInteger(v) && v >= 0 && v <= 18;
      case "count": return Number.isSafeInteger(v) && v >= 0;
      case "code": return typeof v === "string" && CODE.test(v);
      case "hex64": return typeof v === "string" && HEX64.test(v);
      case "price": return typeof v === "string" && PLAN_PRICE.test(v);
      case "short": return typeof v === "string" && SHORT.test(v);
      case "string": return typeof v === "string";
      case "flag": return typeof v === "boolean";
      case "object": return isObject(v);
      case "ratio": return typeof v === "string" && /^[0-9]{1,40}\/[1-9][0-9]{0,39}$/.test(v);
      case "policy": return v === "in-kind" || v === "fiat" || v === "mixed";
      case "kind": return v === "cost" || v === "priority";
      case "basis": return v === "value" || v === "unpaid value";
      case "format": return v === PLAN_FORMAT;
      case "planid": return typeof v === "string" && /^sha256:[0-9a-f]{64}$/.test(v);
    }
    return false;
  }

  function checkShape(v, spec, where) {
    if (typeof spec === "string") {
      if (!leafOk(spec, v)) throw new Error(where + ": not a valid " + spec + " (" + JSON.stringify(v).slice(0, 80) + ")");
      return;
    }
    if (spec.nullable) { if (v !== null) checkShape(v, spec.nullable, where); return; }
    if (spec.list) {
      if (!Array.isArray(v)) throw new Error(where + ": expected a list");
      if (v.length < (spec.min || 0) || v.length > (spec.max || Infinity)) throw new Error(where + ": wrong length");
      v.forEach(function (item, i) { checkShape(item, spec.list, where + "[" + i + "]"); });
      return;
    }
    if (!isObject(v)) throw new Error(where + ": expected an object");
    if (spec.map) {
      Object.keys(v).forEach(function (k) {
        if (!leafOk(spec.keys || "code", k)) throw new Error(where + ": key " + JSON.stringify(k).slice(0, 80));
        checkShape(v[k], spec.map, where + "." + k);
      });
      return;
    }
    Object.keys(v).forEach(function (k) {
      if (!Object.prototype.hasOwnProperty.call(spec.obj, k)) throw new Error(where + "." + k + ": unknown key");
    });
    Object.keys(spec.obj).forEach(function (k) {
      if (!Object.prototype.hasOwnProperty.call(v, k)) throw new Error(where + "." + k + ": missing");
      checkShape(v[k], spec.obj[k], where + "." + k);
    });
  }

  /** The figures every check needs from the plan, by asset code (throws on a bad plan). */
  function figures(plan) {
    if (!isObject(plan) || plan.plan !== PLAN_FORMAT) throw new Error("not a " + PLAN_FORMAT + " plan");
    checkShape(plan, PLAN_SCHEMA, "plan");
    var out = {};
    plan.assets.forEach(function (a, i) {
      if (Object.prototype.hasOwnProperty.call(out, a.code)) throw new Error("plan.assets[" + i + "]: asset " + a.code + " listed twice");
      out[a.code] = {
        code: a.code,
        decimals: a.decimals,
        total: BigInt(a.total_claims),
        available: BigInt(a.available),
        distributable: BigInt(a.distributable),
        distributed: BigInt(a.distributed_total),
        inKind: a.in_kind,
        cutoff: a.remainder.cutoff,
        surplus: BigInt(a.surplus),
        soldValue: BigInt(a.sold_value),
        ratio: a.ratio,
      };
    });
    return out;
  }

  /** D/T exactly ("n/d", lowest terms) and floored to 2 decimals as a percentage; null when T = 0. */
  function ratioOf(d, t) {
    if (t === 0n) return null;
    var a = d, b = t;
    while (b !== 0n) { var r = a % b; a = b; b = r; }
    var basis = d * 10000n / t;
    var whole = (basis / 100n).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    return { exact: (d / a) + "/" + (t / a), percent: whole + "." + (basis % 100n).toString().padStart(2, "0") + "%" };
  }

  function sameRatio(published, d, t) {
    var want = ratioOf(d, t);
    if (want === null || published === null) return want === null && published === null;
    return published.exact === want.exact && published.percent === want.percent;
  }

  /** Each pool's D, distributed total, surplus and ratio, and the fiat pool's sum
   * (verifier/insolvency/consistency.py `figure_problems`). */
  function figureProblems(plan, fig) {
    var problems = [];
    Object.keys(fig).forEach(function (code) {
      var f = fig[code];
      var wanted = f.inKind ? (f.available < f.total ? f.available : f.total) : 0n;
      if (f.distributable !== wanted) problems.push(code + ": distributable " + f.distributable + " is not " + wanted);
      if (f.distributed !== f.distributable) problems.push(code + ": distributed total " + f.distributed + " is not D");
      if (f.surplus !== f.available - f.distributable) problems.push(code + ": surplus " + f.surplus + " is not available - D");
      if (!sameRatio(f.ratio, f.distributable, f.total)) problems.push(code + ": ratio is not D/T");
    });
    var fiat = plan.fiat;
    if (fiat !== null) {
      var n = {};
      ["cash", "sold", "deductions", "pool", "claims_value", "distributable", "distributed_total"].forEach(function (k) {
        n[k] = BigInt(fiat[k]);
      });
      var sold = 0n;
      Object.keys(fig).forEach(function (code) { sold += fig[code].soldValue; });
      if (n.sold !== sold) problems.push("fiat: sold " + n.sold + " is not the assets' sold values " + sold);
      var pool = n.cash + n.sold - n.deductions;
      if (pool < 0n) pool = 0n;
      if (n.pool !== pool) problems.push("fiat: pool " + n.pool + " is not cash + sold - deductions (" + pool + ")");
      var want = n.pool < n.claims_value ? n.pool : n.claims_value;
      if (n.distributable !== want || n.distributed_total !== want) {
        problems.push("fiat: distributable and distributed total must be " + want);
      }
      if (!sameRatio(fiat.ratio, want, n.claims_value)) problems.push("fiat: ratio is not D/T");
    }
    return problems;
  }

  // ------------------------------------------------------------------ plan consistency

  var REMAINDER_RULE = "largest-remainder/leaf-hash";

  /** The rule of a plan in sentences (consistency.py `rules_text`, word for word). */
  function rulesText(policy, sellSurplus, currency, currencyDecimals) {
    var text = [
      "Each asset is shared on its own: T is the total of the customers' claims, A what " +
        "the estate holds of it, and D = min(A, T) is distributed; one asset's surplus never " +
        "pays another asset's claims" +
        (policy !== "in-kind" ? " except through the fiat pool, as this plan's policy sells it." : "."),
      "A customer with claim x receives floor(x * D / T) base units, plus one unit if they " +
        "are among the first R = D - (sum of those floors) customers ordered by the " +
        "remainder (x * D) mod T, largest first, then by the claim-tree leaf hash " +
        "(lowercase hex), smallest first.",
      "The cutoff is the remainder and leaf hash of the R-th customer: a customer receives " +
        "the extra unit if their remainder is larger, or equal with a leaf hash no larger.",
    ];
    if (policy === "in-kind") {
      text.push("Policy in-kind: everything is paid in kind; the estate's fiat is not distributed " +
        "by this plan and an asset's surplus stays in the estate.");
      return text;
    }
    if (policy === "fiat") {
      text.push("Policy fiat: every asset is valued at the valuation date in " + currency + " " +
        "minor units (floor(A * price * 10^" + currencyDecimals + " / 10^decimals) per " +
        "asset) and pooled with the estate's fiat less costs and priority deductions; a " +
        "customer's claim is the floor of the sum of their claims' values; the pool is " +
        "shared by the same rule.");
    } else {
      text.push("Policy mixed: every asset is paid in kind by the rule; what that leaves unpaid is " +
        "valued at the valuation date (one floor over the customer's assets) and topped " +
        "up from the fiat pool (the estate's fiat less costs and priority deductions" +
        (sellSurplus ? ", plus each asset's surplus sold" : "") + ") by the same rule.");
    }
    text.push("Costs and priority deductions come out of the fiat pool only; a pool they exceed " +
      "is empty, and they are never taken from assets paid in kind.");
    return text;
  }

  /** A root document the plan carries, its commitment recomputed; {root} or {why}. */
  async function rootOf(data, where) {
    try {
      var root = V().parseRootDocument(data);
      var again = await V().commitmentOf(root);
      if (V().bytesToHex(again) !== V().bytesToHex(root.commitment)) {
        return { why: where + " is not a valid por-mst-v1 root document (its commitment does not recompute)" };
      }
      return { root: root };
    } catch (err) {
      return { why: where + " is not a valid por-mst-v1 root document (" + (err.detail || err.message) + ")" };
    }
  }

  function remainderProblems(where, r, distributable, total) {
    var units = BigInt(r.units);
    var out = [];
    if (r.rule !== REMAINDER_RULE) out.push(where + ": remainder rule is not " + REMAINDER_RULE);
    if ((units === 0n) !== (r.cutoff === null)) out.push(where + ": remainder units and cutoff disagree");
    if (distributable === total && units !== 0n) out.push(where + ": D = T leaves no remainder");
    if (total !== 0n && units >= total) out.push(where + ": remainder units are not below T");
    if (r.cutoff !== null) {
      var cr = BigInt(r.cutoff.remainder);
      if (!(cr > 0n && cr < (total > 1n ? total : 1n))) out.push(where + ": the cutoff's remainder is not between 0 and T");
    }
    return out;
  }

  function sumsOf(root) {
    var sums = {};
    root.assets.forEach(function (a, i) { sums[a.code] = root.root.sums[i].toString(); });
    return sums;
  }

  function sameMap(a, b) {
    var ka = Object.keys(a).sort(), kb = Object.keys(b).sort();
    return ka.length === kb.length && ka.every(function (k, i) { return k === kb[i] && a[k] === b[k]; });
  }

  function columnsText(list) { return JSON.stringify(list.map(function (c) { return [c.code, c.decimals]; })); }

  function claimsProblems(plan, root) {
    var claims = plan.claims;
    var out = [];
    if (V().bytesToHex(root.commitment) !== claims.commitment) out.push("claims.root: its commitment is not claims.commitment");
    if (root.attestation_id !== claims.attestation_id || root.as_of !== claims.as_of) {
      out.push("claims: attestation_id or as_of differs from the claims root's");
    }
    if (columnsText(plan.assets) !== columnsText(root.assets)) out.push("assets: codes and decimals are not the claims root's");
    var sums = sumsOf(root);
    if (!sameMap(claims.totals, sums) || plan.assets.some(function (a) { return sums[a.code] !== a.total_claims; })) {
      out.push("claims.totals and assets[].total_claims must be the claims root's sums");
    }
    var n = BigInt(claims.customers), h = BigInt(root.height);
    if (!(n <= (1n << h) && (h === 0n || n > (1n << (h - 1n))))) out.push("claims.customers does not fit the claims tree's height");
    return out;
  }

  function estateProblems(plan) {
    var estate = plan.estate;
    var out = [];
    if (estate.policy !== plan.policy || estate.sell_surplus !== plan.sell_surplus) {
      out.push("estate: policy and sell_surplus must be the plan's");
    }
    if (plan.sell_surplus && plan.policy !== "mixed") out.push("sell_surplus applies to policy mixed only");
    var codes = plan.assets.map(function (a) { return a.code; });
    if (JSON.stringify(Object.keys(estate.assets).sort()) !== JSON.stringify(codes.slice().sort())) {
      out.push("estate.assets: not the plan's assets");
    }
    plan.assets.forEach(function (a) {
      var held = Object.prototype.hasOwnProperty.call(estate.assets, a.code) ? estate.assets[a.code] : null;
      if (held === null) return;
      if (BigInt(held.available) !== BigInt(held.on_chain) + BigInt(held.recovered)) {
        out.push("estate.assets." + a.code + ": available is not on_chain + recovered");
      }
      if (held.available !== a.available) out.push(a.code + ": available is not the estate's");
    });
    var total = 0n;
    estate.deductions.forEach(function (d) { total += BigInt(d.amount); });
    if (BigInt(estate.deductions_total) !== total) out.push("estate: deductions_total is not the sum of the deductions");
    return out;
  }

  function hasPrice(plan, code) {
    return plan.valuation !== null && Object.prototype.hasOwnProperty.call(plan.valuation.prices, code);
  }

  /** floor(units · price · 10^currencyDecimals / 10^decimals) of one asset. */
  function valueOfOne(plan, code, decimals, units) {
    var one = {}, dec = {};
    one[code] = units;
    dec[code] = decimals;
    return valueOf(one, dec, plan.valuation.prices, plan.valuation.currency_decimals);
  }

  function soldValue(plan, a) {
    if (!hasPrice(plan, a.code)) return 0n;
    if (plan.policy === "fiat") return valueOfOne(plan, a.code, a.decimals, BigInt(a.available));
    if (plan.policy === "mixed" && plan.sell_surplus) return valueOfOne(plan, a.code, a.decimals, BigInt(a.surplus));
    return 0n;
  }

  function policyProblems(plan) {
    var out = [];
    var paidInKind = plan.policy !== "fiat";
    plan.assets.forEach(function (a) {
      if (a.in_kind !== paidInKind) out.push(a.code + ": in_kind under policy " + plan.policy);
      out = out.concat(remainderProblems(a.code, a.remainder, BigInt(a.distributable), BigInt(a.total_claims)));
      if (BigInt(a.sold_value) !== soldValue(plan, a)) out.push(a.code + ": sold_value is not " + soldValue(plan, a));
      if (plan.policy !== "in-kind") {
        var priced = hasPrice(plan, a.code);
        if (!priced || (BigInt(a.total_claims) !== 0n && scaled(plan.valuation.prices[a.code], "price")[0] === 0n)) {
          out.push(a.code + ": policy " + plan.policy + " needs a price (above 0 when claimed)");
        }
      }
    });
    if (plan.valuation !== null) {
      var codes = plan.assets.map(function (a) { return a.code; });
      if (Object.keys(plan.valuation.prices).some(function (c) { return codes.indexOf(c) < 0; })) {
        out.push("valuation.prices: prices an asset the plan does not hold");
      }
    }
    if ((plan.fiat === null) !== (plan.policy === "in-kind")) out.push("fiat: present exactly when the policy pays fiat");
    if (plan.policy !== "in-kind" && plan.valuation === null) out.push("valuation: policy " + plan.policy + " needs one");
    return out;
  }

  function fiatProblems(plan, fiat, height) {
    var valuation = plan.valuation, estate = plan.estate;
    if (valuation === null || fiat.currency !== valuation.currency || fiat.decimals !== valuation.currency_decimals) {
      return ["fiat: currency and decimals must be the valuation's"];
    }
    var out = [];
    var basis = plan.policy === "fiat" ? "value" : "unpaid value";
    if (fiat.basis !== basis) out.push("fiat: basis is not " + basis + " under policy " + plan.policy);
    var cash = BigInt(estate.fiat.recovered) + BigInt(estate.fiat.reserve) + BigInt(estate.fiat.insurance);
    if (BigInt(fiat.cash) !== cash) out.push("fiat: cash is not the estate's fiat " + cash);
    if (fiat.deductions !== estate.deductions_total) out.push("fiat: deductions are not the estate's");
    out = out.concat(remainderProblems("fiat", fiat.remainder, BigInt(fiat.distributable), BigInt(fiat.claims_value)));
    // the claims value lies within (floor(value of the claims) - customers, floor(...)]
    var left = {}, dec = {};
    plan.assets.forEach(function (a) {
      var units = BigInt(a.total_claims) - (plan.policy === "mixed" ? BigInt(a.distributed_total) : 0n);
      if (hasPrice(plan, a.code) && units !== 0n) { left[a.code] = units; dec[a.code] = a.decimals; }
    });
    var top = valueOf(left, dec, valuation.prices, fiat.decimals);
    var cv = BigInt(fiat.claims_value);
    if (!(top - (1n << BigInt(height)) < cv && cv <= top)) {
      out.push("fiat: claims_value " + cv + " is not the value of the claims (" + top + ", less at most one minor unit per customer)");
    }
    return out;
  }

  function byUtf8(a, b) {
    var x = encoder.encode(a), y = encoder.encode(b);
    for (var i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i] - y[i];
    return x.length - y.length;
  }

  function poolTotals(plan) {
    var pools = {};
    plan.assets.forEach(function (a) { if (a.in_kind) pools[a.code] = a.distributed_total; });
    if (plan.fiat !== null) pools[plan.fiat.currency] = plan.fiat.distributed_total;
    return pools;
  }

  function distributionProblems(plan, root, claimsRoot) {
    var dist = plan.distribution;
    var out = [];
    if (root.attestation_id !== dist.attestation_id) out.push("distribution.attestation_id is not its root's");
    if (root.as_of !== plan.claims.as_of || root.height !== claimsRoot.height) {
      out.push("distribution.root: as_of and height must be the claims'");
    }
    var columns = plan.assets.filter(function (a) { return a.in_kind; })
      .map(function (a) { return { code: a.code, decimals: a.decimals }; });
    if (plan.fiat !== null) columns.push({ code: plan.fiat.currency, decimals: plan.fiat.decimals });
    columns.sort(function (a, b) { return byUtf8(a.code, b.code); });
    if (columnsText(root.assets) !== columnsText(columns)) {
      out.push("distribution.root: its assets are not the assets paid in kind and the currency");
    }
    var sums = sumsOf(root);
    if (!sameMap(dist.totals, sums)) out.push("distribution.totals are not the distribution root's sums");
    var pools = poolTotals(plan);
    var wrong = Object.keys(pools).filter(function (c) { return sums[c] !== pools[c]; });
    if (wrong.length) out.push("the distribution root's sums are not the distributed totals of " + wrong.join(", "));
    return out;
  }

  /** Every figure the plan derives, against its own inputs (consistency.py
   * `consistency_problems`, check for check). */
  async function consistencyProblems(plan) {
    var claims = await rootOf(plan.claims.root, "claims.root");
    var dist = await rootOf(plan.distribution.root, "distribution.root");
    var out = [claims.why, dist.why].filter(function (w) { return w; });
    if (claims.root) out = out.concat(claimsProblems(plan, claims.root));
    out = out.concat(estateProblems(plan));
    out = out.concat(policyProblems(plan));
    if (plan.fiat !== null) out = out.concat(fiatProblems(plan, plan.fiat, claims.root ? claims.root.height : 0));
    if (dist.root && claims.root) out = out.concat(distributionProblems(plan, dist.root, claims.root));
    var v = plan.valuation;
    var text = rulesText(plan.policy, plan.sell_surplus, v === null ? null : v.currency, v === null ? null : v.currency_decimals);
    if (JSON.stringify(plan.rules_text) !== JSON.stringify(text)) out.push("rules_text is not the text of this plan's policy");
    return out;
  }

  function amountsOf(verified) {
    var out = {};
    Object.keys(verified.balances_base_units).forEach(function (code) {
      out[code] = BigInt(verified.balances_base_units[code]);
    });
    return out;
  }

  /**
   * What the customer should receive, by asset code of the distribution tree, from their
   * claim and the plan alone (in kind per asset; the fiat pool by the claim's value, or by
   * the value left unpaid in kind for a mixed plan).
   */
  function expectedDistribution(plan, claim, leafHash) {
    var fig = figures(plan);
    var expected = {};
    var paidInKind = {};
    Object.keys(fig).forEach(function (code) {
      var f = fig[code];
      var x = claim[code] || 0n;
      var d = f.inKind ? share(x, f.distributable, f.total, leafHash, f.cutoff) : 0n;
      paidInKind[code] = d;
      if (f.inKind) expected[code] = d;
    });
    var fiat = plan.fiat;
    if (fiat !== null) {
      var decimals = {};
      Object.keys(fig).forEach(function (code) { decimals[code] = fig[code].decimals; });
      var prices = plan.valuation !== null ? plan.valuation.prices : {};
      var curDec = fiat.decimals;
      var basis = {};
      Object.keys(fig).forEach(function (code) {
        basis[code] = (claim[code] || 0n) - paidInKind[code];
      });
      var value = valueOf(basis, decimals, prices, curDec);
      expected.fiatBasis = { currency: fiat.currency, value: value };
      expected[fiat.currency] = share(
        value, BigInt(fiat.distributable), BigInt(fiat.claims_value), leafHash, fiat.remainder.cutoff);
    }
    return expected;
  }

  /** Amounts in whole units, every digit, with the proofs' decimals (`decimals`). */
  function show(map, decimals) {
    return Object.keys(map).sort().map(function (k) {
      var d = decimals && Object.prototype.hasOwnProperty.call(decimals, k) ? decimals[k] : null;
      return k + " " + (d === null ? map[k] : V().formatUnits(BigInt(map[k]), d));
    }).join(", ");
  }

  // Long on purpose: every check in order, each recorded whatever the others found.
  async function verifyBundle(bundle, plan) {
    var checks = new Checks();
    var result = { valid: false, checks: checks.list };
    if (!isObject(bundle) || bundle.insolvency_proof !== FORMAT) {
      checks.add("bundle", false, "not a " + FORMAT + " bundle");
      result.failed = checks.failed();
      return result;
    }
    var fig;
    try {
      fig = figures(plan);
    } catch (err) {
      checks.add("bundle", false, "the plan cannot be read: " + err.message);
      result.failed = checks.failed();
      return result;
    }
    var extra = Object.keys(bundle).filter(function (k) {
      return ["insolvency_proof", "plan_id", "claim", "distribution"].indexOf(k) < 0;
    }).sort();
    var samePlan = bundle.plan_id === plan.plan_id && extra.length === 0;
    checks.add("bundle", samePlan, samePlan ? "a " + FORMAT + " bundle for plan " + plan.plan_id
      : extra.length ? "unknown keys " + JSON.stringify(extra)
        : "the bundle is for plan " + JSON.stringify(bundle.plan_id) + ", this plan is " + plan.plan_id);
    var decimals = {};
    result.decimals = decimals;
    var recomputed = await planId(plan);
    checks.add("plan_id", recomputed === plan.plan_id, recomputed === plan.plan_id
      ? "recomputed from the plan's canonical JSON"
      : "the plan's canonical JSON hashes to " + recomputed + ", the plan states " + plan.plan_id);

    var claims = plan.claims;
    var claimV = await runTree(bundle.claim, { publishedCommitment: claims.commitment });
    checks.add("claim proof", claimV.valid, claimV.valid
      ? "verifies to the plan's claims commitment " + claims.commitment
      : claimV.check + ": " + claimV.message);
    var oneLeaf = isObject(bundle.claim) && Array.isArray(bundle.claim.leaves) && bundle.claim.leaves.length === 1;
    checks.add("claim leaf", oneLeaf, oneLeaf ? "the claim is one leaf" : "a claim must be exactly one leaf (split 1)");
    result.account_id = claimV.valid ? claimV.account_id : null;

    var claim = claimV.valid ? amountsOf(claimV) : null;
    if (claimV.valid) {
      claimV.assets.forEach(function (a) { decimals[a.code] = a.decimals; });
      var rootSums = {};
      bundle.claim.assets.forEach(function (a, i) { rootSums[a.code] = BigInt(bundle.claim.root.sums[i]); });
      var bad = Object.keys(fig).concat(Object.keys(rootSums), Object.keys(claims.totals))
        .filter(function (c, i, all) { return all.indexOf(c) === i; })
        .filter(function (code) {
          return !(code in rootSums) || claims.totals[code] !== rootSums[code].toString() ||
            !(code in fig) || fig[code].total !== rootSums[code];
        }).sort();
      checks.add("claims totals", bad.length === 0, bad.length === 0
        ? "the claims tree's root sums equal the plan's totals (" + show(rootSums, decimals) + ")"
        : "differ for " + bad.join(", ") + ": the claims root sums " + show(rootSums, decimals));
    } else {
      checks.add("claims totals", false, "not checked: the claim proof does not verify");
    }

    var problems = figureProblems(plan, fig);
    checks.add("plan figures", problems.length === 0, problems.length === 0
      ? "per asset: D = min(available, T) (0 when sold), distributed total = D, surplus = " +
        "available - D, ratio = D/T; the fiat pool likewise"
      : problems.join("; "));
    var inconsistent = await consistencyProblems(plan);
    checks.add("plan consistency", inconsistent.length === 0, inconsistent.length === 0
      ? "every derived figure recomputes from the plan's own inputs: the claims root, the " +
        "estate, the policy and prices, the distribution root's columns and sums, the rule"
      : inconsistent.join("; "));

    var distribution = plan.distribution;
    var distV = await runTree(bundle.distribution, { publishedRoot: distribution.root });
    checks.add("distribution proof", distV.valid, distV.valid
      ? "verifies to the plan's distribution root (commitment " + distV.commitment + ")"
      : distV.check + ": " + distV.message);
    if (distV.valid) distV.assets.forEach(function (a) { decimals[a.code] = a.decimals; });

    if (claim !== null && oneLeaf && distV.valid) {
      var leafHash = await leafHashOf(bundle.claim);
      var expected;
      try {
        expected = expectedDistribution(plan, claim, leafHash);
      } catch (err) {
        expected = null;
        checks.add("distribution rule", false, "the rule cannot be applied: " + err.message);
      }
      if (expected !== null) {
        var got = amountsOf(distV);
        result.fiat_basis = expected.fiatBasis || null;
        delete expected.fiatBasis;
        var codes = Object.keys(got).concat(Object.keys(expected)).filter(function (c, i, all) { return all.indexOf(c) === i; });
        var wrong = codes.filter(function (c) { return (got[c] || 0n) !== (expected[c] || 0n); });
        checks.add("distribution rule", wrong.length === 0, wrong.length === 0
          ? "the rule applied to the claim gives " + show(expected, decimals)
          : "for " + wrong.join(", ") + " the rule gives " + show(expected, decimals) +
            ", the distribution holds " + show(got, decimals));
        result.expected = expected;
      }
      result.claim = claim;
      result.distribution = amountsOf(distV);
      result.leaf_hash = leafHash;
    } else {
      checks.add("distribution rule", false, "not checked: a proof does not verify");
    }

    if (distV.valid) {
      // every column (each asset in kind and the currency): root sum = plan total = the
      // pool's distributed total, none missing or extra
      var sums = {};
      bundle.distribution.assets.forEach(function (a, i) { sums[a.code] = BigInt(bundle.distribution.root.sums[i]).toString(); });
      var pools = poolTotals(plan);
      var off = Object.keys(sums).concat(Object.keys(distribution.totals), Object.keys(pools))
        .filter(function (c, i, all) { return all.indexOf(c) === i; })
        .filter(function (c) {
          return sums[c] === undefined || distribution.totals[c] !== sums[c] || pools[c] !== sums[c];
        }).sort();
      checks.add("distribution totals", off.length === 0, off.length === 0
        ? "the distribution tree's root sums equal the plan's totals and distributed totals (" + show(sums, decimals) + ")"
        : "differ for " + off.join(", ") + ": the distribution root sums " + show(sums, decimals) +
          ", the pools distribute " + show(pools, decimals));
    } else {
      checks.add("distribution totals", false, "not checked: the distribution proof does not verify");
    }

    var same = claimV.valid && distV.valid && claimV.account_id === distV.account_id;
    checks.add("account", same, same ? "both proofs are for account " + claimV.account_id
      : "the claim is for " + JSON.stringify(claimV.account_id) + ", the distribution for " +
        JSON.stringify(distV.account_id));
    result.failed = checks.failed();
    result.valid = result.failed.length === 0;
    result.assets = fig;
    return result;
  }

  async function verifyBundleText(text, plan) {
    var data;
    try {
      data = JSON.parse(text);
    } catch (err) {
      return { valid: false, failed: ["bundle"], checks: [{ name: "bundle", ok: false, detail: "not a JSON document (" + err.message + ")" }] };
    }
    return verifyBundle(data, plan);
  }

  global.PorInsolvency = {
    FORMAT: FORMAT,
    canonical: canonical,
    planId: planId,
    share: share,
    valueOf: valueOf,
    expectedDistribution: expectedDistribution,
    verifyBundle: verifyBundle,
    verifyBundleText: verifyBundleText,
  };
})(typeof globalThis !== "undefined" ? globalThis : this);
