#!/usr/bin/env python3
"""Adds messages to both catalogues (locales/ja.ftl, the source, and locales/en.ftl).

Input (stdin): a `## Section` line starts a section; other lines are `Japanese<TAB>English`,
with Fluent variables written `{ $name }` on both sides. Ids are made from the English text
(short ASCII slugs, unique); a Japanese text already in ja.ftl is skipped.

    python3 scripts/i18n_add.py < new-messages.tsv
"""
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
JA = ROOT / "locales" / "ja.ftl"
EN = ROOT / "locales" / "en.ftl"
MSG = re.compile(r"^([a-z][a-z0-9-]*)\s*=\s?(.*)$")


def known(path):
    ids, texts = set(), set()
    for line in path.read_text(encoding="utf-8").splitlines():
        m = MSG.match(line)
        if m:
            ids.add(m.group(1))
            texts.add(" ".join(m.group(2).split()))
    return ids, texts


def slug(en, ids):
    words = re.sub(r"\{ *\$([a-z_]+) *\}", r"\1", en).lower()
    words = re.findall(r"[a-z0-9]+", words)
    base = "-".join(words[:6])[:40].strip("-") or "msg"
    if not base[0].isalpha():
        base = "m-" + base
    cand, n = base, 2
    while cand in ids:
        cand = f"{base}-{n}"
        n += 1
    ids.add(cand)
    return cand


def main():
    ids, ja_texts = known(JA)
    ja_out, en_out = [], []
    for raw in sys.stdin.read().splitlines():
        if not raw.strip():
            continue
        if raw.startswith("## "):
            ja_out.append("\n" + raw)
            en_out.append("\n" + raw)
            continue
        ja, en = raw.split("\t", 1)
        ja, en = " ".join(ja.split()), " ".join(en.split())
        if not ja or not en or ja in ja_texts:
            continue
        ja_texts.add(ja)
        i = slug(en, ids)
        ja_out.append(f"{i} = {ja}")
        en_out.append(f"{i} = {en}")
    for path, lines in ((JA, ja_out), (EN, en_out)):
        with path.open("a", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")
    print(f"{sum(1 for l in ja_out if not l.startswith(chr(10)))} messages added")


if __name__ == "__main__":
    main()
