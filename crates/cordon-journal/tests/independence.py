#!/usr/bin/env python3
"""Checks a cordon journal with nothing but Python, `cryptography` and the public specs.

Usage: independence.py JOURNAL_DIR PUBLIC_KEY_RAW [PROOF_BUNDLE]

- every line: canonical per CSC (json.dumps sort_keys, compact, ensure_ascii=False) and an
  Ed25519 CSC signature (payload = the object with signature.signature removed);
- the RFC 9162 tree over SHA-256(0x00 || line) leaves, recomputed from scratch;
- every C2SP signed-note checkpoint: key id SHA-256(name || 0x0A || 0x01 || pk)[:4], signature
  over the note text, root equal to the recomputed tree at its size;
- optionally a c2sp.org/tlog-proof@v1 bundle, verified per RFC 9162 section 2.1.3.2.

Prints one JSON line and exits 0 if everything holds, 1 otherwise. Written from the specs, not from
cordon's code.
"""
import base64
import hashlib
import json
import os
import sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey


def leaf(data):
    return hashlib.sha256(b"\x00" + data).digest()


def node(l, r):
    return hashlib.sha256(b"\x01" + l + r).digest()


def mth(leaves):
    n = len(leaves)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return leaves[0]
    k = 1
    while k * 2 < n:
        k *= 2
    return node(mth(leaves[:k]), mth(leaves[k:]))


def canonical(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def verify_ed25519(pk, sig, msg):
    try:
        Ed25519PublicKey.from_public_bytes(pk).verify(sig, msg)
        return True
    except InvalidSignature:
        return False


def check_note(text, pk):
    """Returns (origin, size, root) if the note carries a valid signature by its origin under pk."""
    body, sep, sigs = text.rpartition("\n\n")
    if not sep:
        raise ValueError("no blank line")
    body += "\n"
    origin, size, root = body.split("\n")[:3]
    want = hashlib.sha256(origin.encode() + b"\n" + b"\x01" + pk).digest()[:4]
    ok = False
    for line in sigs.splitlines():
        if not line.startswith("\u2014 "):
            raise ValueError("bad signature line")
        name, b64 = line[2:].split(" ", 1)
        raw = base64.b64decode(b64, validate=True)
        if name == origin and raw[:4] == want and verify_ed25519(pk, raw[4:], body.encode()):
            ok = True
    if not ok:
        raise ValueError("no valid signature by the origin")
    return origin, int(size), base64.b64decode(root, validate=True)


def root_from_inclusion(index, size, leaf_hash, proof):
    if index >= size:
        raise ValueError("index beyond size")
    fn, sn, r = index, size - 1, leaf_hash
    for p in proof:
        if sn == 0:
            raise ValueError("proof too long")
        if fn & 1 or fn == sn:
            r = node(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ValueError("proof too short")
    return r


def main():
    journal, pk_path = sys.argv[1], sys.argv[2]
    pk = open(pk_path, "rb").read()
    problems = []
    origin = json.load(open(os.path.join(journal, "journal.json")))["origin"]
    raw = open(os.path.join(journal, "entries.jsonl"), "rb").read()
    lines = raw.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    leaves = []
    for i, line in enumerate(lines):
        leaves.append(leaf(line))
        obj = json.loads(line)
        if canonical(obj) != line:
            problems.append(f"entry {i}: not canonical")
        sig = obj.get("signature")
        if not isinstance(sig, dict) or sig.get("algorithm") != "ed25519":
            problems.append(f"entry {i}: missing signature")
            continue
        payload = dict(obj)
        payload["signature"] = {k: v for k, v in sig.items() if k != "signature"}
        if not verify_ed25519(pk, base64.b64decode(sig["signature"], validate=True), canonical(payload)):
            problems.append(f"entry {i}: invalid signature")
    cdir = os.path.join(journal, "checkpoints")
    checked = 0
    for name in sorted(os.listdir(cdir)):
        if name.startswith(".") or not name.endswith(".checkpoint"):
            continue
        try:
            o, size, root = check_note(open(os.path.join(cdir, name), encoding="utf-8").read(), pk)
        except ValueError as e:
            problems.append(f"checkpoint {name}: {e}")
            continue
        if o != origin:
            problems.append(f"checkpoint {name}: origin {o!r}")
        elif size > len(leaves):
            problems.append(f"checkpoint {name}: size {size} beyond {len(leaves)} entries")
        elif mth(leaves[:size]) != root:
            problems.append(f"checkpoint {name}: root mismatch")
        checked += 1
    bundle_index = None
    if len(sys.argv) > 3:
        text = open(sys.argv[3], encoding="utf-8").read()
        head, _, checkpoint = text.partition("\n\n")
        hl = head.split("\n")
        if hl[0] != "c2sp.org/tlog-proof@v1" or not hl[1].startswith("extra ") or not hl[2].startswith("index "):
            problems.append("bundle: bad header")
        else:
            extra = base64.b64decode(hl[1][6:], validate=True)
            bundle_index = int(hl[2][6:])
            proof = [base64.b64decode(h, validate=True) for h in hl[3:]]
            try:
                _, size, root = check_note(checkpoint, pk)
                if root_from_inclusion(bundle_index, size, leaf(extra), proof) != root:
                    problems.append("bundle: inclusion proof does not reach the checkpoint root")
            except ValueError as e:
                problems.append(f"bundle: {e}")
    print(json.dumps({
        "ok": not problems,
        "entries": len(leaves),
        "root": base64.b64encode(mth(leaves)).decode(),
        "checkpoints": checked,
        "bundle_index": bundle_index,
        "problems": problems,
    }))
    return 0 if not problems else 1


if __name__ == "__main__":
    sys.exit(main())
