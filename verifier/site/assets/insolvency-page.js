/*
 * The insolvency distribution page (insolvency.html): reads a dropped, chosen or pasted
 * por-insolvency-proof-v1 bundle and checks it with PorInsolvency (insolvency.js) against
 * the plan embedded in the page. Shows the customer's claim and distribution per asset,
 * the rule as applied to them, and every check by name. The reading, drag and drop and
 * result region are check-page.js's (window.PorPage). Nothing leaves the page; every
 * string from the bundle is inserted with textContent, never as HTML.
 */
(function () {
  "use strict";

  var el = window.PorPage.el;
  var show = window.PorPage.show;
  var plan = null;

  function readable(units, decimals) {
    return window.PorVerify.formatReadable(units, decimals);
  }

  /** An asset's decimals as the proofs' root documents state them (bound by their
   * commitments; the plan's are checked against them), never the plan's own. */
  function decimalsOf(v, code) {
    return v.decimals && Object.prototype.hasOwnProperty.call(v.decimals, code) ? v.decimals[code] : 0;
  }

  function table(head, rows, numeric) {
    return el("div", { class: "scroll" }, [el("table", head.length > 3 ? { class: "cards" } : {}, [
      el("thead", {}, [el("tr", {}, head.map(function (h, i) {
        return el("th", numeric.indexOf(i) >= 0 ? { class: "n" } : {}, [h]);
      }))]),
      el("tbody", {}, rows.map(function (row) {
        return el("tr", {}, row.map(function (v, i) {
          var attrs = { "data-label": head[i] };
          if (numeric.indexOf(i) >= 0) attrs.class = "n";
          return el("td", attrs, [el("span", {}, [v])]);
        }));
      })),
    ])]);
  }

  /** The rule, as applied to this customer, in words (one line per asset). */
  function ruleLines(v) {
    var lines = [];
    Object.keys(v.assets).forEach(function (code) {
      var f = v.assets[code];
      if (!f.inKind) return;
      var x = v.claim[code] || 0n;
      if (f.total === 0n) return;
      var product = x * f.distributable;
      var floorShare = product / f.total;
      var extra = (v.expected[code] || 0n) - floorShare;
      lines.push(code + ": floor(" + x + " × " + f.distributable + " / " + f.total + ") = " +
        floorShare + (extra > 0n ? " + 1 remainder unit (your remainder " + (product % f.total) +
        " comes before the cutoff)" : "") + " = " + (v.expected[code] || 0n) + " base units");
    });
    if (plan.fiat && v.expected[plan.fiat.currency] !== undefined) {
      var f = plan.fiat;
      var basis = v.fiat_basis ? v.fiat_basis.value : 0n;
      lines.push(f.currency + ": " + (f.basis === "unpaid value" ? "what in kind left unpaid" : "your claims") +
        ", valued at the plan's prices, is " + basis + " minor units; floor(" + basis + " × " +
        f.distributable + " / " + f.claims_value + ") with the same remainder rule = " +
        v.expected[f.currency] + " minor units");
    }
    return lines;
  }

  function checkList(v) {
    return el("ul", { class: "checks", id: "checks" }, v.checks.map(function (c) {
      return el("li", { "data-check": c.name, "data-ok": String(c.ok) }, [
        el("b", { class: c.ok ? "ok" : "bad" }, [(c.ok ? "✓ " : "✗ ") + c.name]),
        ": " + c.detail,
      ]);
    }));
  }

  function showValid(v) {
    var codes = Object.keys(v.distribution).concat(Object.keys(v.claim)).filter(function (c, i, all) {
      return all.indexOf(c) === i;
    }).sort();
    var rows = codes.map(function (code) {
      var d = decimalsOf(v, code);
      var claim = v.claim[code];
      var got = v.distribution[code] || 0n;
      if (v.fiat_basis && v.fiat_basis.currency === code) {
        // the fiat row: the value the pool shares by (the claim's value, or what in kind
        // left unpaid), in the currency
        var value = v.fiat_basis.value;
        return [code, readable(value, d) + " (value)", readable(got, d),
          value > 0n ? (Number(got * 10000n / value) / 100).toFixed(2) + "%" : "—"];
      }
      return [code, claim === undefined ? "—" : readable(claim, d), readable(got, d),
        claim && claim > 0n && v.assets[code] && v.assets[code].inKind
          ? (Number(got * 10000n / claim) / 100).toFixed(2) + "%" : "—"];
    });
    show([
      el("h2", { class: "verdict ok", id: "verdict" }, ["Valid: your distribution follows the plan"]),
      el("dl", {}, [
        el("dt", {}, ["account"]), el("dd", { class: "mono", id: "account" }, [v.account_id]),
        el("dt", {}, ["plan"]), el("dd", { class: "mono" }, [plan.plan_id]),
      ]),
      table(["asset", "your claim", "your distribution", "recovered"], rows, [1, 2, 3]),
      el("p", { class: "note" }, ["Amounts are rounded down to at most 8 decimals; the exact " +
        "base units are in the rule below."]),
      el("h3", {}, ["The rule applied to your claim"]),
      el("ul", { id: "rule-applied" }, ruleLines(v).map(function (s) { return el("li", {}, [s]); })),
      el("details", {}, [el("summary", {}, ["Every check (all passed)"]), checkList(v)]),
    ], "valid");
  }

  function showInvalid(v) {
    var failed = v.failed || [];
    show([
      el("h2", { class: "verdict bad", id: "verdict" }, [
        "Invalid: the " + failed.join(", ") + " check" + (failed.length > 1 ? "s" : "") + " failed",
      ]),
      el("p", { class: "note mono", id: "failed-check" }, [
        v.checks.filter(function (c) { return !c.ok; }).map(function (c) {
          return c.name + ": " + c.detail;
        }).join(" · "),
      ]),
      el("h3", {}, ["Every check"]),
      checkList(v),
    ], "invalid");
  }

  window.PorPage.ready(function () {
    plan = window.PorPage.start({
      form: "bundle-form",
      file: "bundle-file",
      text: "bundle-text",
      data: "por-plan",
      check: function (text) { return window.PorInsolvency.verifyBundleText(text, plan); },
      render: function (v) { if (v.valid) showValid(v); else showInvalid(v); },
      empty: "Drop, choose or paste a proof bundle first.",
      tooLarge: "This file is too large to be a proof bundle",
      failed: "Could not check the bundle",
      missing: "The published plan is missing from this page.",
    });
  });
})();
