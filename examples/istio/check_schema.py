#!/usr/bin/env python3
"""Checks Istio resources against Istio's published CRD schemas (schemas/*.crd.yaml), with no
cluster: each document's `spec` must validate against its kind's openAPIV3Schema, unknown fields
are errors (as `kubectl apply --validate=strict` makes them), and `metadata.name` is required.
A WasmPlugin whose pluginConfig is psf-guard's policy must equal policies/default.json, so the
example never drifts from what a new user gets.

Usage: check_schema.py FILE.yaml...   (exit 1, listing `file: doc N: path: reason`, on any error)
"""
import json
import pathlib
import sys

import jsonschema
import yaml

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parent.parent


def strict(schema):
    """The schema with unknown fields refused wherever Kubernetes would prune them."""
    if isinstance(schema, dict):
        out = {k: strict(v) for k, v in schema.items() if not k.startswith("x-kubernetes-")}
        if (
            "properties" in schema
            and "additionalProperties" not in schema
            and not schema.get("x-kubernetes-preserve-unknown-fields")
        ):
            out["additionalProperties"] = False
        return out
    if isinstance(schema, list):
        return [strict(v) for v in schema]
    return schema


def load_schemas():
    schemas = {}
    for path in sorted((HERE / "schemas").glob("*.crd.yaml")):
        crd = yaml.safe_load(path.read_text())
        group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
        for version in crd["spec"]["versions"]:
            spec = version["schema"]["openAPIV3Schema"]["properties"]["spec"]
            schemas[(f"{group}/{version['name']}", kind)] = strict(spec)
    return schemas


def check(path, schemas):
    errors = []
    for index, doc in enumerate(yaml.safe_load_all(pathlib.Path(path).read_text()), start=1):
        if doc is None:
            continue
        where = f"{path}: doc {index}"
        key = (doc.get("apiVersion"), doc.get("kind"))
        schema = schemas.get(key)
        if schema is None:
            errors.append(f"{where}: no published schema for {key[1]} {key[0]}")
            continue
        if not (doc.get("metadata") or {}).get("name"):
            errors.append(f"{where}: metadata.name: required")
        for error in jsonschema.Draft7Validator(schema).iter_errors(doc.get("spec")):
            pointer = ".".join(str(p) for p in error.absolute_path) or "(spec)"
            errors.append(f"{where}: spec.{pointer}: {error.message}")
        if key[1] == "WasmPlugin" and "pluginConfig" in (doc.get("spec") or {}):
            default = json.loads((REPO / "policies/default.json").read_text())
            if doc["spec"]["pluginConfig"] != default:
                errors.append(f"{where}: spec.pluginConfig: differs from policies/default.json")
    return errors


def main(paths):
    if not paths:
        print(__doc__)
        return 2
    schemas = load_schemas()
    errors = [e for path in paths for e in check(path, schemas)]
    for error in errors:
        print(error)
    if not errors:
        print(f"istio: {len(paths)} file(s) match the published schemas")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
