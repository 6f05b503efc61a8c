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

  function planAssets(plan) {
    if (!isObject(plan) || plan.plan !== PLAN_FORMAT) throw new Error("not a " + PLAN_FORMAT + " plan");
    if (!Array.isArray(plan.assets)) throw new Error("plan.assets is not a list");
    return plan.assets;
  }

  /** The figures every check needs from the plan, by asset code (throws on a bad plan). */
  function figures(plan) {
    var out = {};
    planAssets(plan).forEach(function (a, i) {
      var where = "plan.assets[" + i + "]";
      if (!isObject(a) || typeof a.code !== "string") throw new Error(where + " is not an asset");
      var remainder = isObject(a.remainder) ? a.remainder : {};
      if (Object.prototype.hasOwnProperty.call(out, a.code)) throw new Error(where + ": asset " + a.code + " listed twice");
      var fig = {
        code: a.code,
        decimals: Number(big(a.decimals, where + ".decimals")),
        total: big(a.total_claims, where + ".total_claims"),
        available: big(a.available, where + ".available"),
        distributable: big(a.distributable, where + ".distributable"),
        distributed: big(a.distributed_total, where + ".distributed_total"),
        inKind: a.in_kind !== false,
        cutoff: remainder.cutoff === undefined ? null : remainder.cutoff,
        surplus: a.surplus,
        soldValue: a.sold_value === undefined ? 0n : big(a.sold_value, where + ".sold_value"),
        ratio: a.ratio,
      };
      out[a.code] = fig;
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
    if (want === null || published === null || published === undefined) return want === null && published === null;
    return isObject(published) && Object.keys(published).length === 2 &&
      published.exact === want.exact && published.percent === want.percent;
  }

  /** The plan's own figures must agree with each other (as verify.py `_check_figures`). */
  function figureProblems(plan, fig) {
    var problems = [];
    Object.keys(fig).forEach(function (code) {
      var f = fig[code];
      var wanted = f.inKind ? (f.available < f.total ? f.available : f.total) : 0n;
      if (f.distributable !== wanted) problems.push(code + ": distributable " + f.distributable + " is not " + wanted);
      if (f.distributed !== f.distributable) problems.push(code + ": distributed total " + f.distributed + " is not D");
      if (f.surplus !== undefined && String(f.surplus) !== (f.available - f.distributable).toString()) {
        problems.push(code + ": surplus " + JSON.stringify(f.surplus) + " is not available - D");
      }
      if (!sameRatio(f.ratio, f.distributable, f.total)) problems.push(code + ": ratio is not D/T");
    });
    var fiat = plan.fiat;
    if (isObject(fiat)) {
      var n = {};
      ["cash", "sold", "deductions", "pool", "claims_value", "distributable", "distributed_total"].forEach(function (k) {
        n[k] = big(fiat[k], "fiat." + k);
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
    if (isObject(fiat)) {
      var decimals = {};
      Object.keys(fig).forEach(function (code) { decimals[code] = fig[code].decimals; });
      var prices = (plan.valuation && plan.valuation.prices) || {};
      var curDec = Number(big(fiat.decimals, "plan.fiat.decimals"));
      var basis = {};
      Object.keys(fig).forEach(function (code) {
        basis[code] = (claim[code] || 0n) - paidInKind[code];
      });
      var value = valueOf(basis, decimals, prices, curDec);
      expected.fiatBasis = { currency: fiat.currency, value: value };
      var fr = isObject(fiat.remainder) ? fiat.remainder : {};
      expected[fiat.currency] = share(
        value,
        big(fiat.distributable, "plan.fiat.distributable"),
        big(fiat.claims_value, "plan.fiat.claims_value"),
        leafHash,
        fr.cutoff === undefined ? null : fr.cutoff
      );
    }
    return expected;
  }

  function show(map) {
    return Object.keys(map).sort().map(function (k) { return k + " " + map[k]; }).join(", ");
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
    checks.add("bundle", bundle.plan_id === plan.plan_id,
      bundle.plan_id === plan.plan_id ? "a " + FORMAT + " bundle for plan " + plan.plan_id
        : "the bundle is for plan " + JSON.stringify(bundle.plan_id) + ", this plan is " + plan.plan_id);
    var recomputed = await planId(plan);
    checks.add("plan_id", recomputed === plan.plan_id, recomputed === plan.plan_id
      ? "recomputed from the plan's canonical JSON"
      : "the plan's canonical JSON hashes to " + recomputed + ", the plan states " + plan.plan_id);

    var claims = isObject(plan.claims) ? plan.claims : {};
    var claimV = await runTree(bundle.claim, { publishedCommitment: claims.commitment });
    checks.add("claim proof", claimV.valid, claimV.valid
      ? "verifies to the plan's claims commitment " + claims.commitment
      : claimV.check + ": " + claimV.message);
    var oneLeaf = isObject(bundle.claim) && Array.isArray(bundle.claim.leaves) && bundle.claim.leaves.length === 1;
    checks.add("claim leaf", oneLeaf, oneLeaf ? "the claim is one leaf" : "a claim must be exactly one leaf (split 1)");
    result.account_id = claimV.valid ? claimV.account_id : null;

    var claim = claimV.valid ? amountsOf(claimV) : null;
    if (claimV.valid) {
      var totals = isObject(claims.totals) ? claims.totals : {};
      var rootSums = {};
      bundle.claim.assets.forEach(function (a, i) { rootSums[a.code] = BigInt(bundle.claim.root.sums[i]); });
      var bad = Object.keys(fig).filter(function (code) {
        return !(code in rootSums) || totals[code] !== rootSums[code].toString() || fig[code].total !== rootSums[code];
      });
      checks.add("claims totals", bad.length === 0, bad.length === 0
        ? "the claims tree's root sums equal the plan's totals (" + show(rootSums) + ")"
        : "differ for " + bad.join(", ") + ": the claims root sums " + show(rootSums));
    } else {
      checks.add("claims totals", false, "not checked: the claim proof does not verify");
    }

    var problems;
    try {
      problems = figureProblems(plan, fig);
    } catch (err) {
      problems = [err.message];
    }
    checks.add("plan figures", problems.length === 0, problems.length === 0
      ? "per asset: D = min(available, T) (0 when sold), distributed total = D, surplus = " +
        "available - D, ratio = D/T; the fiat pool likewise"
      : problems.join("; "));

    var distribution = isObject(plan.distribution) ? plan.distribution : {};
    var distV = await runTree(bundle.distribution, { publishedRoot: distribution.root });
    checks.add("distribution proof", distV.valid, distV.valid
      ? "verifies to the plan's distribution root (commitment " + distV.commitment + ")"
      : distV.check + ": " + distV.message);

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
          ? "the rule applied to the claim gives " + show(expected)
          : "for " + wrong.join(", ") + " the rule gives " + show(expected) + ", the distribution holds " + show(got));
        result.expected = expected;
      }
      result.claim = claim;
      result.distribution = amountsOf(distV);
      result.leaf_hash = leafHash;
    } else {
      checks.add("distribution rule", false, "not checked: a proof does not verify");
    }

    if (distV.valid) {
      var dtotals = isObject(distribution.totals) ? distribution.totals : {};
      var sums = {};
      bundle.distribution.assets.forEach(function (a, i) { sums[a.code] = BigInt(bundle.distribution.root.sums[i]).toString(); });
      var off = Object.keys(sums).concat(Object.keys(dtotals)).filter(function (c) {
        var planned = fig[c] ? fig[c].distributed.toString() : dtotals[c];
        return sums[c] !== dtotals[c] || (fig[c] && fig[c].inKind && sums[c] !== planned);
      });
      checks.add("distribution totals", off.length === 0, off.length === 0
        ? "the distribution tree's root sums equal the plan's totals (" + show(sums) + ")"
        : "differ for " + off.join(", "));
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
