/*
 * por-mst-v1 inclusion-proof verifier (DESIGN.md, "Liabilities tree: format por-mst-v1").
 *
 * A second, independent implementation of the format for the browser: SHA-256 from
 * WebCrypto (crypto.subtle.digest), integer arithmetic with BigInt, no dependencies, no
 * network. It is a classic script that defines `globalThis.PorVerify`, so the same file
 * runs in a web page (<script src>) and under Node 20 (vm.runInThisContext), where the
 * tests compare its verdicts with the Python verifier (attestations/proofs.py) on the
 * fixtures/vectors files and on tampered proofs.
 *
 * Checks, in order; a failure names the check (the same names as the Python verifier):
 *   "format"   the format is not por-mst-v1
 *   "fields"   a field is missing or malformed (lengths, ranges, hex, decimal strings,
 *              len(path) == height, index < 2**height, distinct indices)
 *   "assets"   asset list not sorted, not unique, bad code or decimals
 *   "sums"     a node sum reaches 2**128 on the way up
 *   "root hash", "root sums"   a leaf does not hash up to the stated root
 *   "commitment"               the commitment does not recompute from the proof
 *   "published commitment"     the proof is for another attestation
 *   "published root"           the proof differs from the published root document
 */
(function (global) {
  "use strict";

  var FORMAT = "por-mst-v1";
  var MAX_SUM = 1n << 128n;
  var MAX_HEIGHT = 255;
  var HEX64 = /^[0-9a-f]{64}$/;
  var DECIMAL = /^(0|[1-9][0-9]*)$/;
  var CODE = /^[A-Z0-9._-]{1,16}$/;
  var ROOT_KEYS = ["format", "attestation_id", "as_of", "assets", "height", "root", "commitment"];
  var PROOF_KEYS = ROOT_KEYS.concat(["account_id", "leaves"]);
  var encoder = new TextEncoder();

  function ProofError(check, message) {
    var err = new Error(check + ": " + message);
    err.name = "ProofError";
    err.check = check;
    err.detail = message;
    return err;
  }

  // ------------------------------------------------------------------ bytes

  function hexToBytes(hex) {
    var out = new Uint8Array(hex.length / 2);
    for (var i = 0; i < out.length; i++) out[i] = parseInt(hex.substr(i * 2, 2), 16);
    return out;
  }

  function bytesToHex(bytes) {
    var s = "";
    for (var i = 0; i < bytes.length; i++) s += (bytes[i] < 16 ? "0" : "") + bytes[i].toString(16);
    return s;
  }

  function concat(parts) {
    var size = 0;
    parts.forEach(function (p) { size += p.length; });
    var out = new Uint8Array(size);
    var at = 0;
    parts.forEach(function (p) { out.set(p, at); at += p.length; });
    return out;
  }

  function sameBytes(a, b) {
    if (a.length !== b.length) return false;
    for (var i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
    return true;
  }

  function u8(n) { return Uint8Array.of(n & 0xff); }

  function u16(n) { return Uint8Array.of((n >> 8) & 0xff, n & 0xff); }

  /** enc(v): each component as 16 unsigned big-endian bytes. */
  function enc(values) {
    var out = new Uint8Array(16 * values.length);
    values.forEach(function (value, i) {
      if (value < 0n || value >= MAX_SUM) throw ProofError("sums", "component " + value + " out of range");
      var v = value;
      for (var j = 15; j >= 0; j--) {
        out[i * 16 + j] = Number(v & 0xffn);
        v >>= 8n;
      }
    });
    return out;
  }

  function subtle() {
    var c = global.crypto;
    if (!c || !c.subtle || typeof c.subtle.digest !== "function") {
      throw ProofError(
        "environment",
        "this browser offers no WebCrypto here (pages must be served over https or from localhost)"
      );
    }
    return c.subtle;
  }

  async function sha256(bytes) {
    return new Uint8Array(await subtle().digest("SHA-256", bytes));
  }

  // ------------------------------------------------------------------ field parsing

  function isObject(v) { return v !== null && typeof v === "object" && !Array.isArray(v); }

  function typeName(v) { return v === null ? "null" : Array.isArray(v) ? "list" : typeof v; }

  function need(obj, key, where) {
    if (!Object.prototype.hasOwnProperty.call(obj, key)) {
      throw ProofError("fields", where + ": missing key '" + key + "'");
    }
    return obj[key];
  }

  function mapping(v, where) {
    if (!isObject(v)) throw ProofError("fields", where + ": expected an object, got " + typeName(v));
    return v;
  }

  function list(v, where) {
    if (!Array.isArray(v)) throw ProofError("fields", where + ": expected a list, got " + typeName(v));
    return v;
  }

  function hash(v, where) {
    if (typeof v !== "string" || !HEX64.test(v)) {
      throw ProofError("fields", where + ": expected 64 lowercase hex digits");
    }
    return hexToBytes(v);
  }

  function smallInt(v, where, low, high) {
    var n;
    if (typeof v === "string" && DECIMAL.test(v)) n = BigInt(v);
    else if (typeof v === "number" && Number.isSafeInteger(v)) n = BigInt(v);
    else throw ProofError("fields", where + ": expected an integer, got " + JSON.stringify(v));
    if (n < BigInt(low) || n > BigInt(high)) {
      throw ProofError("fields", where + ": " + n + " not in " + low + ".." + high);
    }
    return n;
  }

  function amount(v, where) {
    var n;
    if (typeof v === "string") {
      if (!DECIMAL.test(v) || v.length > 40) {
        throw ProofError("fields", where + ": not a canonical decimal string: " + JSON.stringify(v));
      }
      n = BigInt(v);
    } else if (typeof v === "number" && Number.isSafeInteger(v)) {
      n = BigInt(v);
    } else {
      throw ProofError("fields", where + ": expected a decimal string, got " + JSON.stringify(v));
    }
    if (n < 0n) throw ProofError("fields", where + ": negative amount " + n);
    if (n >= MAX_SUM) throw ProofError("fields", where + ": " + n + " reaches 2**128");
    return n;
  }

  function amounts(v, where, count) {
    var items = list(v, where);
    if (items.length !== count) {
      throw ProofError("fields", where + ": " + items.length + " values for " + count + " assets");
    }
    return items.map(function (x, i) { return amount(x, where + "[" + i + "]"); });
  }

  function wellFormed(s) {
    if (typeof s.isWellFormed === "function") return s.isWellFormed();
    return !/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(^|[^\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(s);
  }

  function utf8Length(s) {
    // lone surrogates count 3 bytes, as Python's "surrogatepass" does
    var size = 0;
    for (var i = 0; i < s.length; i++) {
      var c = s.charCodeAt(i);
      if (c < 0x80) size += 1;
      else if (c < 0x800) size += 2;
      else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length &&
               s.charCodeAt(i + 1) >= 0xdc00 && s.charCodeAt(i + 1) <= 0xdfff) { size += 4; i++; }
      else size += 3;
    }
    return size;
  }

  function text(v, where, maxBytes, allowEmpty) {
    if (typeof v !== "string") throw ProofError("fields", where + ": expected a string, got " + typeName(v));
    var size = utf8Length(v);
    if ((size === 0 && !allowEmpty) || size > maxBytes) {
      throw ProofError("fields", where + ": length " + size + " bytes not in 1.." + maxBytes);
    }
    if (!wellFormed(v)) throw ProofError("fields", where + ": not valid UTF-8 text");
    return v;
  }

  function node(v, where, count) {
    var obj = mapping(v, where);
    return {
      hash: hash(need(obj, "hash", where), where + ".hash"),
      sums: amounts(need(obj, "sums", where), where + ".sums", count),
    };
  }

  function assetsOf(v) {
    var items = list(v, "assets");
    var specs = items.map(function (item, i) {
      var where = "assets[" + i + "]";
      var obj = mapping(item, where);
      var code = need(obj, "code", where);
      var decimals = smallInt(need(obj, "decimals", where), where + ".decimals", 0, 36);
      if (typeof code !== "string" || !CODE.test(code)) {
        throw ProofError("assets", "asset code " + JSON.stringify(code) + " is not [A-Z0-9._-]{1,16}");
      }
      return { code: code, decimals: Number(decimals) };
    });
    if (specs.length < 1 || specs.length > 255) {
      throw ProofError("assets", specs.length + " assets; the format allows 1..255");
    }
    for (var i = 1; i < specs.length; i++) {
      var before = specs[i - 1].code;
      var after = specs[i].code;
      if (before === after) throw ProofError("assets", "asset " + after + " listed twice");
      if (before > after) throw ProofError("assets", "assets not sorted by code: " + before + " before " + after);
    }
    return specs;
  }

  function header(obj) {
    var fmt = need(obj, "format", "document");
    if (fmt !== FORMAT) throw ProofError("format", "format is " + JSON.stringify(fmt) + ", expected " + FORMAT);
    var attestationId = text(need(obj, "attestation_id", "document"), "attestation_id", 65535, false);
    var asOf = text(need(obj, "as_of", "document"), "as_of", 256, true);
    var assets = assetsOf(need(obj, "assets", "document"));
    var height = Number(smallInt(need(obj, "height", "document"), "height", 1, MAX_HEIGHT));
    var root = node(need(obj, "root", "document"), "root", assets.length);
    var commitment = hash(need(obj, "commitment", "document"), "commitment");
    return {
      attestation_id: attestationId, as_of: asOf, assets: assets, height: height,
      root: root, commitment: commitment,
    };
  }

  /** Parse and shape-check a root document (root.json). */
  function parseRootDocument(data) {
    return header(mapping(data, "root document"));
  }

  /** Parse and shape-check an inclusion proof; throws ProofError naming the field. */
  function parseProof(data) {
    var obj = mapping(data, "proof");
    var proof = header(obj);
    proof.account_id = text(need(obj, "account_id", "proof"), "account_id", 65535, false);
    var raw = list(need(obj, "leaves", "proof"), "leaves");
    if (raw.length === 0) throw ProofError("fields", "leaves: a proof needs at least one leaf");
    var maxIndex = (1n << BigInt(proof.height)) - 1n;
    var seen = new Set();
    proof.leaves = raw.map(function (item, i) {
      var where = "leaves[" + i + "]";
      var leaf = mapping(item, where);
      var index = smallInt(need(leaf, "index", where), where + ".index", 0n, maxIndex);
      if (seen.has(index)) throw ProofError("fields", where + ".index: leaf " + index + " appears twice");
      seen.add(index);
      var salt = hash(need(leaf, "salt", where), where + ".salt");
      var balances = amounts(need(leaf, "balances", where), where + ".balances", proof.assets.length);
      var pathItems = list(need(leaf, "path", where), where + ".path");
      if (pathItems.length !== proof.height) {
        throw ProofError("fields", where + ".path: " + pathItems.length + " entries, height is " + proof.height);
      }
      var path = pathItems.map(function (p, j) { return node(p, where + ".path[" + j + "]", proof.assets.length); });
      return { index: index, salt: salt, balances: balances, path: path };
    });
    proof.unknown_keys = Object.keys(obj).filter(function (k) { return PROOF_KEYS.indexOf(k) < 0; }).sort();
    return proof;
  }

  // ------------------------------------------------------------------ hashing

  function accountHash(accountId) {
    return sha256(concat([u8(4), encoder.encode(accountId)]));
  }

  function leafHash(salt, acct, balances) {
    return sha256(concat([u8(0), salt, acct, enc(balances)]));
  }

  function nodeHash(left, right) {
    return sha256(concat([u8(1), left.hash, enc(left.sums), right.hash, enc(right.sums)]));
  }

  function addSums(a, b) {
    return a.map(function (x, i) {
      var s = x + b[i];
      if (s >= MAX_SUM) throw ProofError("sums", "sum " + s + " reaches 2**128");
      return s;
    });
  }

  /** The commitment: H(0x03 || u16(len id) || id || u8(A) || assets || u8(height) || root). */
  function commitmentOf(doc) {
    var ident = encoder.encode(doc.attestation_id);
    var parts = [u8(3), u16(ident.length), ident, u8(doc.assets.length)];
    doc.assets.forEach(function (a) {
      var code = encoder.encode(a.code);
      parts.push(u8(code.length), code, u8(a.decimals));
    });
    parts.push(u8(doc.height), doc.root.hash, enc(doc.root.sums));
    return sha256(concat(parts));
  }

  /** Hash a leaf up its path; bit i of index set = the node at level i is a right child. */
  async function walkToRoot(index, leafNodeHash, leafSums, path) {
    var current = { hash: leafNodeHash, sums: leafSums.slice() };
    for (var level = 0; level < path.length; level++) {
      var sibling = path[level];
      var right = ((index >> BigInt(level)) & 1n) === 1n;
      var h = right ? await nodeHash(sibling, current) : await nodeHash(current, sibling);
      var sums = right ? addSums(sibling.sums, current.sums) : addSums(current.sums, sibling.sums);
      current = { hash: h, sums: sums };
    }
    return current;
  }

  function sameSums(a, b) {
    if (a.length !== b.length) return false;
    for (var i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
    return true;
  }

  function sameAssets(a, b) {
    if (a.length !== b.length) return false;
    for (var i = 0; i < a.length; i++) {
      if (a[i].code !== b[i].code || a[i].decimals !== b[i].decimals) return false;
    }
    return true;
  }

  /** Base units as an exact whole-unit decimal string (150000000, 8 -> "1.5"). */
  function formatUnits(units, decimals) {
    var u = BigInt(units);
    var sign = u < 0n ? "-" : "";
    if (u < 0n) u = -u;
    var scale = 10n ** BigInt(decimals);
    var whole = u / scale;
    var frac = u % scale;
    if (decimals === 0 || frac === 0n) return sign + whole.toString();
    return sign + whole.toString() + "." + frac.toString().padStart(decimals, "0").replace(/0+$/, "");
  }

  /**
   * Base units for reading (150000000000, 8 -> "1,500.00000000"): whole units with thousands
   * separators and at most 8 decimals (fewer when the asset has fewer), rounded down, zero as
   * "0"; the same text as verifier/report/figures.py `units` on the report pages.
   */
  function formatReadable(units, decimals) {
    var u = BigInt(units);
    if (u === 0n) return "0";
    var negative = u < 0n;
    if (negative) u = -u;
    var scale = 10n ** BigInt(decimals);
    var places = Math.min(decimals, 8);
    var cut = 10n ** BigInt(decimals - places);
    var shown = u / cut;  // the dropped digits: rounded toward zero here ...
    if (negative && u % cut !== 0n) shown += 1n;  // ... and down (away from zero) when negative
    var whole = (shown / (scale / cut)).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    var text = whole;
    if (places > 0) text += "." + (shown % (scale / cut)).toString().padStart(places, "0");
    return (negative ? "-" : "") + text;
  }

  /**
   * Verify an inclusion proof (a parsed JSON value). `options.publishedRoot` (a root
   * document as JSON) and `options.publishedCommitment` (hex) are what the exchange
   * published. Resolves to what was established; rejects with a ProofError.
   */
  async function verifyProof(data, options) {
    var opts = options || {};
    var published = opts.publishedRoot != null ? parseRootDocument(opts.publishedRoot) : null;
    var publishedCommitment = opts.publishedCommitment != null
      ? hash(opts.publishedCommitment, "published commitment") : null;
    var proof = parseProof(data);
    var checks = [
      "format " + FORMAT + "; all fields well-formed; " + proof.assets.length + " assets sorted and unique",
      "height " + proof.height + "; every path has " + proof.height + " entries; indices < 2**" + proof.height,
    ];
    var acct = await accountHash(proof.account_id);
    var total = proof.assets.map(function () { return 0n; });
    for (var n = 0; n < proof.leaves.length; n++) {
      var leaf = proof.leaves[n];
      var leafNode = await leafHash(leaf.salt, acct, leaf.balances);
      var top = await walkToRoot(leaf.index, leafNode, leaf.balances, leaf.path);
      if (!sameBytes(top.hash, proof.root.hash)) {
        throw ProofError("root hash", "leaf " + n + " (index " + leaf.index + ") hashes to root " +
          bytesToHex(top.hash) + ", the proof states " + bytesToHex(proof.root.hash));
      }
      if (!sameSums(top.sums, proof.root.sums)) {
        throw ProofError("root sums", "leaf " + n + " (index " + leaf.index + ") sums to " +
          top.sums.join(", ") + ", not the root's " + proof.root.sums.join(", "));
      }
      total = total.map(function (t, i) { return t + leaf.balances[i]; });
      checks.push("leaf " + n + " at index " + leaf.index + " recomputed from salt, account id and " +
        "balances, and hashed up " + proof.height + " levels to the stated root (hash and sums)");
    }
    var expected = await commitmentOf(proof);
    if (!sameBytes(expected, proof.commitment)) {
      throw ProofError("commitment", "recomputed commitment " + bytesToHex(expected) +
        " differs from the proof's " + bytesToHex(proof.commitment));
    }
    checks.push("commitment recomputed from attestation id, assets, height and root");
    if (published) {
      if (!sameBytes(published.commitment, proof.commitment)) {
        throw ProofError("published commitment", "the proof's commitment " + bytesToHex(proof.commitment) +
          " (attestation " + JSON.stringify(proof.attestation_id) + ") is not the published " +
          bytesToHex(published.commitment) + " (attestation " + JSON.stringify(published.attestation_id) +
          "): a proof for another attestation?");
      }
      var mismatches = [];
      if (proof.attestation_id !== published.attestation_id) mismatches.push("attestation_id");
      if (proof.as_of !== published.as_of) mismatches.push("as_of");
      if (!sameAssets(proof.assets, published.assets)) mismatches.push("assets");
      if (proof.height !== published.height) mismatches.push("height");
      if (!sameBytes(proof.root.hash, published.root.hash) || !sameSums(proof.root.sums, published.root.sums)) {
        mismatches.push("root");
      }
      if (mismatches.length) {
        throw ProofError("published root", "proof differs from the root document in " + mismatches.join(", "));
      }
      if (!sameBytes(await commitmentOf(published), published.commitment)) {
        throw ProofError("published root", "the root document's own commitment does not recompute");
      }
      checks.push("matches the published root document (commitment, root, assets, as_of)");
    }
    if (publishedCommitment) {
      if (!sameBytes(publishedCommitment, proof.commitment)) {
        throw ProofError("published commitment", "the proof's commitment " + bytesToHex(proof.commitment) +
          " is not the published " + bytesToHex(publishedCommitment) + " (a proof for another attestation?)");
      }
      checks.push("commitment equals the published commitment");
    }
    var warnings = proof.unknown_keys.map(function (k) { return "unknown key " + JSON.stringify(k) + " ignored"; });
    if (!published && !publishedCommitment) {
      warnings.push("no published root or commitment given: the proof is self-consistent, but compare its " +
        "commitment " + bytesToHex(proof.commitment) + " with the one the exchange published");
    }
    var balances = {};
    var readable = {};
    var baseUnits = {};
    proof.assets.forEach(function (a, i) {
      balances[a.code] = formatUnits(total[i], a.decimals);
      readable[a.code] = formatReadable(total[i], a.decimals);
      baseUnits[a.code] = total[i].toString();
    });
    return {
      valid: true,
      format: FORMAT,
      account_id: proof.account_id,
      attestation_id: proof.attestation_id,
      as_of: proof.as_of,
      commitment: bytesToHex(proof.commitment),
      assets: proof.assets,
      leaves: proof.leaves.length,
      balances: balances,
      balances_readable: readable,
      balances_base_units: baseUnits,
      checks: checks,
      warnings: warnings,
    };
  }

  /** Like verifyProof, but always resolves: {valid: true, ...} or {valid: false, check, message}. */
  async function checkProof(data, options) {
    try {
      return await verifyProof(data, options);
    } catch (err) {
      if (err && err.name === "ProofError") {
        var out = { valid: false, check: err.check, message: err.detail };
        if (isObject(data) && typeof data.attestation_id === "string") out.attestation_id = data.attestation_id;
        return out;
      }
      throw err;
    }
  }

  /** Parse JSON text first: {valid: false, check: "json"} when it is not JSON. */
  async function checkProofText(textValue, options) {
    var data;
    try {
      data = JSON.parse(textValue);
    } catch (err) {
      return { valid: false, check: "json", message: "not a JSON document (" + err.message + ")" };
    }
    return checkProof(data, options);
  }

  global.PorVerify = {
    FORMAT: FORMAT,
    ProofError: ProofError,
    parseProof: parseProof,
    parseRootDocument: parseRootDocument,
    commitmentOf: commitmentOf,
    verifyProof: verifyProof,
    checkProof: checkProof,
    checkProofText: checkProofText,
    formatUnits: formatUnits,
    formatReadable: formatReadable,
    bytesToHex: bytesToHex,
    // for insolvency.js (the distribution check): a leaf's hash, as the tree computes it
    hexToBytes: hexToBytes,
    accountHash: accountHash,
    leafHash: leafHash,
    sha256: sha256,
  };
})(typeof globalThis !== "undefined" ? globalThis : this);
