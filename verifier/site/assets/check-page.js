/*
 * What both proof-check pages share (verify.html with verify-page.js, insolvency.html with
 * insolvency-page.js): building nodes with text only, showing a result in the page's
 * #result region, and reading a dropped, chosen or pasted file into the page's text area
 * before handing the text to the page's own check. Loaded before the page script; exposes
 * window.PorPage. Nothing here fetches, uploads or stores anything; every string is
 * inserted with textContent, never as HTML.
 */
(function () {
  "use strict";

  var MAX_BYTES = 5 * 1024 * 1024;
  var result = null;

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    (children || []).forEach(function (c) {
      node.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
    });
    return node;
  }

  function show(nodes, state) {
    result.textContent = "";
    result.setAttribute("data-state", state);
    nodes.forEach(function (n) { result.appendChild(n); });
    result.focus();
  }

  function dragAndDrop(drop, readFile) {
    ["dragenter", "dragover"].forEach(function (name) {
      drop.addEventListener(name, function (ev) { ev.preventDefault(); drop.classList.add("over"); });
    });
    ["dragleave", "drop"].forEach(function (name) {
      drop.addEventListener(name, function () { drop.classList.remove("over"); });
    });
    drop.addEventListener("drop", function (ev) {
      ev.preventDefault();
      if (ev.dataTransfer && ev.dataTransfer.files.length) readFile(ev.dataTransfer.files[0]);
    });
    // a file dropped outside the drop zone must not make the browser navigate to it
    window.addEventListener("dragover", function (ev) { ev.preventDefault(); });
    window.addEventListener("drop", function (ev) { ev.preventDefault(); });
  }

  /**
   * Wires a proof page and returns the document embedded in it (null, with the message
   * shown, when it is missing). opts: form, file, text, data (element ids); check(text) →
   * a promise of the page's verdict; render(verdict); and the page's words: empty (nothing
   * to check), tooLarge (over 5 MiB), failed (the check threw), missing (no embedded document).
   */
  function start(opts) {
    var form = document.getElementById(opts.form);
    var fileInput = document.getElementById(opts.file);
    var textArea = document.getElementById(opts.text);
    var drop = document.getElementById("drop");
    var clearButton = document.getElementById("clear-button");
    var data;
    result = document.getElementById("result");
    try {
      data = JSON.parse(document.getElementById(opts.data).textContent);
    } catch (err) {
      show([el("p", { class: "bad" }, [opts.missing])], "error");
      return null;
    }

    function verifyText(text) {
      if (!text.trim()) {
        show([el("p", { class: "bad", id: "verdict" }, [opts.empty])], "empty");
        return Promise.resolve();
      }
      show([el("p", { id: "verdict" }, ["Checking…"])], "busy");
      return opts.check(text)
        .then(opts.render)
        .catch(function (err) {
          show([el("h2", { class: "verdict bad", id: "verdict" }, [opts.failed]),
            el("p", {}, [String(err && err.message || err)])], "error");
        });
    }

    function readFile(file) {
      if (!file) return;
      if (file.size > MAX_BYTES) {
        show([el("h2", { class: "verdict bad", id: "verdict" }, [opts.tooLarge])], "invalid");
        return;
      }
      file.text().then(function (text) {
        textArea.value = text;
        return verifyText(text);
      });
    }

    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      verifyText(textArea.value);
    });
    fileInput.addEventListener("change", function () { readFile(fileInput.files[0]); });
    clearButton.addEventListener("click", function () {
      textArea.value = "";
      fileInput.value = "";
      result.textContent = "";
      result.removeAttribute("data-state");
      textArea.focus();
    });
    dragAndDrop(drop, readFile);
    document.body.setAttribute("data-ready", "true");
    return data;
  }

  /** Runs fn once the page's elements exist (scripts are deferred, but be safe). */
  function ready(fn) {
    if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", fn);
    else fn();
  }

  window.PorPage = { el: el, show: show, start: start, ready: ready };
})();
