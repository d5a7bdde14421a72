// Checks a receipt's C2SP tlog-proof (carried in the URL fragment) in the browser:
// the Merkle inclusion proof (RFC 9162) against the checkpoint's root, and the checkpoint's
// Ed25519 signature (signed note) with the ledger's verifier key where the browser supports it.
"use strict";
(function () {
  const box = document.getElementById("proof-check");
  if (!box) return;
  const result = document.getElementById("proof-result");
  const enc = new TextEncoder();

  function b64(text) {
    const bin = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
    return Uint8Array.from(bin, (c) => c.charCodeAt(0));
  }
  async function sha256(bytes) { return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes)); }
  function concat(...parts) {
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) { out.set(p, at); at += p.length; }
    return out;
  }
  function equal(a, b) { return a.length === b.length && a.every((x, i) => x === b[i]); }

  function parse(text) {
    const split = text.indexOf("\n\n");
    if (split < 0) throw new Error("no checkpoint");
    const lines = text.slice(0, split).split("\n");
    if (lines.shift() !== "c2sp.org/tlog-proof@v1") throw new Error("not a tlog-proof");
    let leafHash = null;  // Amanah's receipts carry the entry's leaf hash in the extra line
    if (lines[0] && lines[0].startsWith("extra ")) leafHash = b64(lines.shift().slice(6));
    if (!lines[0] || !/^index (0|[1-9][0-9]*)$/.test(lines[0])) throw new Error("bad index line");
    const index = Number(lines.shift().slice(6));
    const hashes = lines.map(b64);
    const note = text.slice(split + 2);
    const cut = note.indexOf("\n\n");
    const body = note.slice(0, cut + 1);
    const [origin, size, root] = body.split("\n");
    const sigs = note.slice(cut + 2).split("\n").filter((l) => l.startsWith("\u2014 "));
    return { leafHash, index, hashes, body, origin, size: Number(size), root: b64(root), sigs };
  }

  async function included(p) {
    // RFC 9162 2.1.3.2
    let fn = p.index, sn = p.size - 1;
    let r = p.leafHash;
    for (const h of p.hashes) {
      if (sn === 0) return false;
      if (fn % 2 === 1 || fn === sn) {
        r = await sha256(concat(Uint8Array.of(1), h, r));
        while (fn % 2 === 0 && fn !== 0) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); }
      } else {
        r = await sha256(concat(Uint8Array.of(1), r, h));
      }
      fn = Math.floor(fn / 2); sn = Math.floor(sn / 2);
    }
    return sn === 0 && equal(r, p.root);
  }

  async function signed(p) {
    // name+hexid+base64: the base64 part may itself contain "+"
    const [name, keyId, ...rest] = box.dataset.key.split("+");
    const keyData = rest.join("+");
    const raw = b64(keyData);
    if (raw.length !== 33 || raw[0] !== 1) throw new Error("the page's verifier key is not an Ed25519 key");
    const id = Uint8Array.from(keyId.match(/../g), (h) => parseInt(h, 16));
    for (const line of p.sigs) {
      const [, sigName, sigText] = line.split(" ");
      const sig = b64(sigText);
      if (sigName !== name || !equal(sig.slice(0, 4), id)) continue;
      let key;
      try {
        key = await crypto.subtle.importKey("raw", raw.slice(1), { name: "Ed25519" }, false, ["verify"]);
      } catch (e) {
        return null;  // no Ed25519 in this browser
      }
      return crypto.subtle.verify({ name: "Ed25519" }, key, sig.slice(4), enc.encode(p.body));
    }
    return false;
  }

  function hex(bytes) { return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join(""); }

  function show(fields) {
    const list = document.getElementById("proof-entry");
    for (const [k, v] of Object.entries(fields)) {
      const dt = document.createElement("dt"); dt.textContent = k;
      const dd = document.createElement("dd"); dd.textContent = String(v);
      list.append(dt, dd);
    }
  }

  async function run() {
    const fragment = location.hash.slice(1);
    if (!fragment) { result.textContent = box.dataset.empty; return; }
    try {
      const text = decodeURIComponent(fragment);
      document.getElementById("proof-text").value = text;
      const p = parse(text);
      if (!p.leafHash || p.leafHash.length !== 32) throw new Error("the proof carries no leaf hash");
      show({ [box.dataset.labelEntry]: p.index, [box.dataset.labelHash]: hex(p.leafHash),
             [box.dataset.labelLog]: p.origin, [box.dataset.labelSize]: p.size });
      const link = document.getElementById("proof-entry-link");
      link.href = box.dataset.entryUrl.replace(/0$/, String(p.index));
      link.hidden = false;
      if (p.origin !== box.dataset.origin) throw new Error("checkpoint of another log: " + p.origin);
      if (!(await included(p))) throw new Error("the inclusion proof does not lead to the signed root");
      const sig = await signed(p);
      if (sig === false) throw new Error("the checkpoint signature is not valid for the ledger key");
      result.textContent = sig === null ? box.dataset.nosig : box.dataset.ok;
      result.className = sig === null ? "notice" : "notice ok";
    } catch (e) {
      result.textContent = box.dataset.bad + " " + e.message;
      result.className = "notice error";
    }
  }
  run();
  window.addEventListener("hashchange", () => location.reload());
})();
