/*
 * The proof-check page (verify.html): reads a dropped, chosen or pasted proof file and
 * verifies it with PorVerify (verify.js) against the root document embedded in the page.
 * The reading, drag and drop and result region are check-page.js's (window.PorPage).
 * Everything happens in this page: no fetch, no upload, no storage. Every string that
 * comes from the proof is inserted with textContent, never as HTML.
 */
(function () {
  "use strict";

  var EXPLAIN = {
    json: "The text is not a JSON document. Use the proof file exactly as your exchange gave it.",
    format: "This is not a por-mst-v1 inclusion proof.",
    fields: "A field of the proof is missing or malformed, so nothing was recomputed.",
    assets: "The list of assets in the proof is malformed.",
    sums: "Adding the sums up the tree overflows: the proof has been altered.",
    "root hash": "Your leaf, hashed up the tree with the siblings in the proof, does not give the " +
      "root hash. A balance, the salt, your account id, the index or a sibling has been altered.",
    "root sums": "Your leaf, added up the tree with the siblings in the proof, does not give the " +
      "root sums: a balance or a sibling sum has been altered.",
    commitment: "The commitment does not recompute from the attestation id, the assets, the " +
      "height and the root stated in the proof: the proof has been altered.",
    "published root": "The proof does not match the root document published on this site.",
    "published commitment": "The proof is for another attestation than the one published here.",
    environment: "This browser cannot compute SHA-256 here. Open the page over https (or from " +
      "localhost), or use the command-line tool.",
  };

  var el = window.PorPage.el;
  var show = window.PorPage.show;
  var published = null;

  function dl(pairs) {
    var list = el("dl");
    pairs.forEach(function (p) {
      list.appendChild(el("dt", {}, [p[0]]));
      list.appendChild(el("dd", p[2] ? { class: p[2] } : {}, [p[1]]));
    });
    return list;
  }

  function showValid(v) {
    // whole units rounded down to 8 decimals for reading; the exact figures behind a toggle
    var rows = v.assets.map(function (a) {
      return el("tr", {}, [
        el("td", {}, [a.code]),
        el("td", { class: "n" }, [v.balances_readable[a.code] + " " + a.code]),
      ]);
    });
    var table = el("table", { class: "balances" }, [
      el("thead", {}, [el("tr", {}, [
        el("th", {}, ["asset"]), el("th", { class: "n" }, ["your balance"]),
      ])]),
      el("tbody", {}, rows),
    ]);
    var exactRows = v.assets.map(function (a) {
      return el("tr", {}, [
        el("td", {}, [a.code]),
        el("td", { class: "mono" }, [v.balances[a.code]]),
        el("td", { class: "mono" }, [v.balances_base_units[a.code]]),
      ]);
    });
    var exact = el("table", { class: "exact" }, [
      el("thead", {}, [el("tr", {}, [
        el("th", {}, ["asset"]), el("th", {}, ["exact balance"]), el("th", {}, ["base units"]),
      ])]),
      el("tbody", {}, exactRows),
    ]);
    var checks = el("ul", {}, v.checks.map(function (c) { return el("li", {}, [c]); }));
    var nodes = [
      el("h2", { class: "verdict ok", id: "verdict" }, ["Valid: your balances are included"]),
      dl([
        ["account", v.account_id, "mono"],
        ["attestation", v.attestation_id + " (as of " + v.as_of + ")"],
        ["commitment", v.commitment + " — equals the published one", "mono"],
        ["leaves", String(v.leaves)],
      ]),
      el("div", { class: "scroll" }, [table]),
      el("p", { class: "note" }, [
        "Check that these balances are the ones your exchange account showed at the " +
        "attestation time. If they are not, contact the exchange or the auditor. " +
        "Amounts are rounded down to at most 8 decimals.",
      ]),
      el("details", {}, [
        el("summary", {}, ["Exact balances (every decimal, and in base units)"]),
        el("div", { class: "scroll" }, [exact]),
      ]),
      el("details", {}, [el("summary", {}, ["Every check that passed"]), checks]),
    ];
    if (v.warnings.length) {
      nodes.push(el("ul", { class: "note" }, v.warnings.map(function (w) { return el("li", {}, [w]); })));
    }
    show(nodes, "valid");
  }

  function showInvalid(v) {
    var other = v.check === "published commitment" ||
      (v.check === "published root" && v.attestation_id && v.attestation_id !== published.attestation_id);
    if (other) {
      show([
        el("h2", { class: "verdict warn", id: "verdict" }, ["This proof is for another attestation"]),
        dl([
          ["your proof is for", v.attestation_id || "(unknown)"],
          ["this site publishes", published.attestation_id + " (commitment " + published.commitment + ")"],
        ]),
        el("p", {}, [
          "The proof may well be valid, but not for this attestation. Use the proof the " +
          "exchange issued for " + published.attestation_id + ", or open the site of the " +
          "attestation your proof names.",
        ]),
        el("p", { class: "note", id: "failed-check" }, ["check: " + v.check + " — " + v.message]),
      ], "other");
      return;
    }
    show([
      el("h2", { class: "verdict bad", id: "verdict" }, ["Invalid proof: the " + v.check + " check failed"]),
      el("p", {}, [EXPLAIN[v.check] || "The proof did not verify."]),
      el("p", { class: "note mono", id: "failed-check" }, [v.check + ": " + v.message]),
    ], "invalid");
  }

  window.PorPage.ready(function () {
    published = window.PorPage.start({
      form: "proof-form",
      file: "proof-file",
      text: "proof-text",
      data: "por-published-root",
      check: function (text) { return window.PorVerify.checkProofText(text, { publishedRoot: published }); },
      render: function (v) { if (v.valid) showValid(v); else showInvalid(v); },
      empty: "Drop, choose or paste a proof file first.",
      tooLarge: "This file is too large to be a proof",
      failed: "Could not check the proof",
      missing: "The published root document is missing from this page.",
    });
  });
})();
