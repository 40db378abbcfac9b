#!/usr/bin/env python3
"""Extracts the OCSF Detection Finding class and the objects trailhound emits into a compact
fixture (tests/fixtures/ocsf/detection_finding-1.8.0.json) that the OCSF output test checks
every finding against: attribute names, requirement, type, array-ness, profile, enum values
with captions, and object constraints (at_least_one / just_one).

Usage: tools/ocsf_fixture.py GIT_DIR [REF] > tests/fixtures/ocsf/detection_finding-1.8.0.json
  GIT_DIR: a clone of https://github.com/ocsf/ocsf-schema (Apache-2.0); REF defaults to 1.8.0.

Inheritance is resolved the way the OCSF server does it: a class or object takes its parent's
attributes (`extends`), then the attributes of each `$include`d profile (tagged with that
profile), then its own, each attribute merged key by key over the one before it; types,
captions and enums not given there come from dictionary.json. class_uid, category_uid and
type_uid enums are computed as the server computes them (category uid * 1000 + class uid;
class_uid * 100 + activity_id); observable type_id values are gathered from the dictionary
types, dictionary attributes and objects that declare an `observable` number.
"""

import json
import subprocess
import sys

GIT, REF = sys.argv[1], (sys.argv[2] if len(sys.argv) > 2 else "1.8.0")

# The objects trailhound's OCSF output reaches. The test fails on any other object type, so
# emitting a new one means adding it here and regenerating.
OBJECTS = [
    "metadata", "product", "finding_info", "analytic", "related_event", "evidences", "actor",
    "user", "session", "idp", "api", "service", "request", "response","network_endpoint", "location",
    "autonomous_system", "resource_details", "observable", "cloud", "account",
]


def load(path):
    out = subprocess.run(["git", "--git-dir", GIT, "show", f"{REF}:{path}"],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)


DICT = load("dictionary.json")
DATTR = DICT["attributes"]
TYPES = DICT["types"]["attributes"]


def merge(base, over):
    out = dict(base)
    for k, v in over.items():
        if k == "enum" and "enum" in out:
            e = dict(out["enum"])
            e.update(v)
            out["enum"] = e
        else:
            out[k] = v
    return out


def resolve(kind, name):
    d = load(f"{kind}/{name}.json")
    attrs, constraints = {}, None
    parent = d.get("extends")
    if parent:
        pkind = "events" if parent == "base_event" else kind
        pattrs, constraints, _ = resolve(pkind, parent)
        attrs = {k: dict(v) for k, v in pattrs.items()}
    own = dict(d.get("attributes", {}))
    for inc in own.pop("$include", []):
        p = load(inc)
        for k, v in p["attributes"].items():
            v = dict(v)
            v.setdefault("profile", p["name"])
            attrs[k] = merge(attrs.get(k, {}), v)
    for k, v in own.items():
        attrs[k] = merge(attrs.get(k, {}), v)
    return attrs, d.get("constraints") or constraints, d


def compact(attrs):
    out = {}
    for name, a in sorted(attrs.items()):
        dd = DATTR.get(name, {})
        full = merge(dd, a)
        if full.get("@deprecated"):
            continue
        e = {"requirement": full.get("requirement", "optional"), "type": full.get("type")}
        if full.get("object_type"):
            e["type"] = full["object_type"]
        if full.get("is_array"):
            e["array"] = True
        if full.get("profile"):
            e["profile"] = full["profile"]
        if full.get("sibling"):
            e["sibling"] = full["sibling"]
        if "enum" in full:
            e["enum"] = {k: v.get("caption") for k, v in full["enum"].items()}
        out[name] = e
    return out


def observable_types():
    ids = {"0": "Unknown", "99": "Other"}
    for k, t in TYPES.items():
        if "observable" in t:
            ids[str(t["observable"])] = t["caption"]
    for k, a in DATTR.items():
        if "observable" in a:
            ids[str(a["observable"])] = a["caption"]
    listing = subprocess.run(["git", "--git-dir", GIT, "ls-tree", "--name-only", REF, "objects/"],
                             check=True, capture_output=True, text=True).stdout.split()
    for path in listing:
        o = load(path)
        if "observable" in o:
            ids[str(o["observable"])] = o["caption"]
        for k, a in o.get("attributes", {}).items():
            if isinstance(a, dict) and "observable" in a:
                # The server names these after the object and attribute; not checked by the test.
                ids.setdefault(str(a["observable"]), None)
    return dict(sorted(ids.items(), key=lambda kv: int(kv[0])))


def main():
    commit = subprocess.run(["git", "--git-dir", GIT, "rev-parse", f"{REF}^{{commit}}"],
                            check=True, capture_output=True, text=True).stdout.strip()
    version = load("version.json")["version"]
    categories = load("categories.json")["attributes"]
    attrs, _, d = resolve("events/findings", "detection_finding")
    cat = categories[load("events/findings/finding.json")["category"]]
    class_uid = cat["uid"] * 1000 + d["uid"]
    cls = compact(attrs)
    cls["category_uid"]["enum"] = {str(cat["uid"]): cat["caption"]}
    cls["class_uid"]["enum"] = {str(class_uid): d["caption"]}
    acts = cls["activity_id"]["enum"]
    cls["type_uid"]["enum"] = {
        str(class_uid * 100 + int(k)): f"{d['caption']}: {v}" for k, v in acts.items()
    }
    objects = {}
    for name in OBJECTS:
        oattrs, cons, od = resolve("objects", name)
        o = {"attributes": compact(oattrs)}
        if cons:
            o["constraints"] = cons
        if name == "observable":
            o["attributes"]["type_id"]["enum"] = observable_types()
        objects[name] = o
    basic = {k: (v.get("type") or k) for k, v in TYPES.items()}
    fixture = {
        "source": f"https://github.com/ocsf/ocsf-schema tag {REF} (commit {commit}), "
                  "Apache-2.0, Copyright the OCSF authors; extracted by tools/ocsf_fixture.py",
        "version": version,
        "class": {"name": d["name"], "caption": d["caption"], "attributes": cls},
        "objects": objects,
        "types": basic,
    }
    json.dump(fixture, sys.stdout, indent=1, sort_keys=False)
    sys.stdout.write("\n")


main()
