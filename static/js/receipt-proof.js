// Checks a receipt's C2SP tlog-proof (carried in the URL fragment) in the browser:
// the Merkle inclusion proof (RFC 9162) against the checkpoint's root, and the checkpoint's
// Ed25519 signature (signed note) with the ledger's verifier key where the browser supports it;
// then a witness policy: at least k of the given witness keys cosigned the checkpoint (C2SP
// tlog-cosignature, cosignature/v1, as ledger/cosignature.py), counting the cosignature lines in
// the proof and those /ledger/checkpoints/<size> has collected since.
"use strict";
(function () {
  const box = document.getElementById("proof-check");
  if (!box) return;
  const result = document.getElementById("proof-result");
  const enc = new TextEncoder();

  // A check that fails says why in the page's language: the reason's key names a data-reason-* text.
  class Refused extends Error {
    constructor(reason, detail) { super(reason); this.reason = reason; this.detail = detail || ""; }
  }

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
    if (split < 0) throw new Refused("damaged");
    const lines = text.slice(0, split).split("\n");
    if (lines.shift() !== "c2sp.org/tlog-proof@v1") throw new Refused("damaged");
    let leafHash = null;  // Amanah's receipts carry the entry's leaf hash in the extra line
    if (lines[0] && lines[0].startsWith("extra ")) leafHash = b64(lines.shift().slice(6));
    if (!lines[0] || !/^index (0|[1-9][0-9]*)$/.test(lines[0])) throw new Refused("damaged");
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
    if (raw.length !== 33 || raw[0] !== 1) throw new Refused("bad-key");
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

  // "<name>+<hex key id>+<base64(0x04 || Ed25519 public key)>"; the key id must match.
  async function witnessKey(text) {
    const [name, keyId, ...rest] = text.split("+");
    try {
      const raw = b64(rest.join("+"));
      if (!name || !/^[0-9a-fA-F]{8}$/.test(keyId || "") || raw.length !== 33 || raw[0] !== 4) throw new Error();
      const id = Uint8Array.from(keyId.match(/../g), (h) => parseInt(h, 16));
      if (!equal((await sha256(concat(enc.encode(name + "\n"), raw))).slice(0, 4), id)) throw new Error();
      const key = await crypto.subtle.importKey("raw", raw.slice(1), { name: "Ed25519" }, false, ["verify"]);
      return { name, id, key };
    } catch (e) {
      throw new Refused("bad-witness-key", text);
    }
  }

  async function policy() {
    const lines = document.getElementById("witness-keys").value.split("\n").map((l) => l.trim()).filter(Boolean);
    const text = document.getElementById("witness-min").value.trim();
    const min = /^[0-9]+$/.test(text) ? Number(text) : NaN;
    if (!(min >= 0 && min <= lines.length)) throw new Refused("bad-policy");
    const keys = [];
    for (const line of lines) keys.push(await witnessKey(line));
    return { keys, min };
  }

  // The proof's signature lines, and those of the same checkpoint as the site serves it now.
  async function signatureLines(p) {
    const lines = p.sigs.slice();
    try {
      const url = box.dataset.checkpointUrl.replace(/0$/, String(p.size));
      const answer = await fetch(url, { credentials: "omit" });
      if (answer.ok) {
        const note = await answer.text();
        const cut = note.lastIndexOf("\n\n");
        if (cut >= 0 && note.slice(0, cut + 1) === p.body) {
          for (const line of note.slice(cut + 2).split("\n")) {
            if (line.startsWith("\u2014 ") && !lines.includes(line)) lines.push(line);
          }
        }
      }
    } catch (e) {
      // offline: the proof's own lines only
    }
    return lines;
  }

  // Each given witness's valid cosignature, or a refusal: a line by a given key that does not
  // verify, or fewer valid ones than the policy's minimum.
  async function cosigned(p, rule) {
    const lines = await signatureLines(p);
    const found = [];
    for (const w of rule.keys) {
      for (const line of lines) {
        const [, name, text] = line.split(" ");
        if (name !== w.name || !text) continue;
        let blob;
        try { blob = b64(text); } catch (e) { continue; }
        if (blob.length < 4 || !equal(blob.slice(0, 4), w.id)) continue;
        if (blob.length !== 4 + 8 + 64) throw new Refused("bad-cosignature", name);
        const time = new DataView(blob.buffer, blob.byteOffset + 4, 8).getBigUint64(0);
        const message = enc.encode("cosignature/v1\ntime " + time.toString() + "\n" + p.body);
        const ok = await crypto.subtle.verify({ name: "Ed25519" }, w.key, blob.slice(12), message);
        if (!ok || time === 0n || time >= 2n ** 63n) throw new Refused("bad-cosignature", name);
        found.push({ name, time: Number(time) });
        break;
      }
    }
    if (found.length < rule.min) {
      throw new Refused("too-few-witnesses", found.map((f) => f.name).join(", ") || box.dataset.noWitness);
    }
    return found;
  }

  function showWitnesses(found) {
    const block = document.createElement("div");
    block.id = "proof-witnesses";
    const label = document.createElement("p");
    label.textContent = box.dataset.labelWitnesses;
    const list = document.createElement("ul");
    for (const f of found) {
      const item = document.createElement("li");
      item.textContent = f.name + " \u2014 " + new Date(f.time * 1000).toISOString().replace("T", " ").slice(0, 19);
      list.append(item);
    }
    if (!found.length) {
      const item = document.createElement("li");
      item.textContent = box.dataset.noWitness;
      list.append(item);
    }
    block.append(label, list);
    result.append(block);
  }

  function hex(bytes) { return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join(""); }

  function show(fields) {
    const list = document.getElementById("proof-entry");
    for (const [k, v] of fields) {
      const dt = document.createElement("dt"); dt.textContent = k;
      const dd = document.createElement("dd");
      if (v instanceof Node) dd.append(v); else dd.textContent = String(v);
      list.append(dt, dd);
    }
  }

  function link(text, href) {
    const a = document.createElement("a");
    a.textContent = text; a.href = href;
    return a;
  }

  // Icon, colour (the class) and words: a verified and a refused proof never look alike.
  function verdict(kind, title, text) {
    const icon = document.createElement("span");
    icon.className = "proof-icon"; icon.setAttribute("aria-hidden", "true");
    icon.textContent = kind === "ok" ? "\u2714" : kind === "error" ? "\u2716" : "!";
    const strong = document.createElement("strong");
    strong.className = "proof-verdict"; strong.textContent = title;
    const words = document.createElement("span");
    words.className = "proof-reason"; words.textContent = text;
    result.replaceChildren(icon, strong, document.createTextNode(" "), words);
    result.className = "proof-result notice " + kind;
  }

  async function details(p) {
    // Public data about a public entry: the page shows what the ledger says it holds.
    const url = box.dataset.summaryUrl.replace(/0\/summary\.json$/, String(p.index) + "/summary.json");
    const answer = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
    if (!answer.ok) return null;
    const entry = await answer.json();
    if (entry.leaf_hash !== hex(p.leafHash)) throw new Refused("mismatch");
    return entry;
  }

  async function run() {
    const fragment = location.hash.slice(1);
    if (!fragment) { result.textContent = box.dataset.empty; result.className = "proof-result notice"; return; }
    document.getElementById("witness-policy").hidden = false;
    document.getElementById("proof-entry").replaceChildren();
    delete document.getElementById("proof-entry").dataset.loaded;
    try {
      let p;
      try {
        const text = decodeURIComponent(fragment);
        document.getElementById("proof-text").value = text;
        p = parse(text);
      } catch (e) {
        throw e instanceof Refused ? e : new Refused("damaged");
      }
      if (!p.leafHash || p.leafHash.length !== 32) throw new Refused("no-leaf");
      show([[box.dataset.labelEntry, p.index], [box.dataset.labelHash, hex(p.leafHash)],
            [box.dataset.labelLog, p.origin], [box.dataset.labelSize, p.size]]);
      const entryLink = document.getElementById("proof-entry-link");
      entryLink.href = box.dataset.entryUrl.replace(/0$/, String(p.index));
      entryLink.hidden = false;
      if (p.origin !== box.dataset.origin) throw new Refused("other-log", p.origin);
      if (!(await included(p))) throw new Refused("not-included");
      const sig = await signed(p);
      if (sig === false) throw new Refused("bad-signature");
      const rule = sig === null ? null : await policy();
      const witnesses = rule && rule.keys.length ? await cosigned(p, rule) : null;
      let entry = null;
      try {
        entry = await details(p);
      } catch (e) {
        if (e instanceof Refused) throw e;
      }
      if (sig === null) verdict("partial", box.dataset.nosigTitle, box.dataset.nosig);
      else if (witnesses) verdict("ok", box.dataset.okTitle, box.dataset.okWitnesses);
      else verdict("ok", box.dataset.okTitle, box.dataset.ok);
      if (witnesses) showWitnesses(witnesses);
      if (entry) {
        const campaign = entry.campaign.url ? link(entry.campaign.title, entry.campaign.url) : entry.campaign.title;
        show([[box.dataset.labelAmount, entry.amount], [box.dataset.labelCampaign, campaign],
              [box.dataset.labelTime, entry.at], [box.dataset.labelKind, entry.kind]]);
        document.getElementById("proof-entry").dataset.loaded = "true";
      } else {
        const note = document.createElement("p");
        note.textContent = box.dataset.summaryFailed;
        result.append(note);
      }
    } catch (e) {
      const reason = e instanceof Refused ? e.reason : "unknown";
      const key = "reason" + reason.replace(/(^|-)(\w)/g, (m, dash, c) => c.toUpperCase());
      const text = (box.dataset[key] || box.dataset.reasonUnknown) + (e.detail ? " " + e.detail : "");
      verdict("error", box.dataset.badTitle, text);
    }
  }
  document.getElementById("witness-policy").addEventListener("submit", (event) => {
    event.preventDefault();
    run();
  });
  run();
  window.addEventListener("hashchange", () => location.reload());
})();
