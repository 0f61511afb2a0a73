"""Write the Client-Server API surface the fuzz test drives (tests/security/client_server_surface.json).

Reads the spec's OpenAPI definitions (bundled and dereferenced by the spec copy's
``bundle_openapi.py``) and keeps, per operation: the method, the full path, its
path and query parameters, and for JSON bodies the request example and the paths
of the fields the schema names (nested up to :data:`MAX_FIELD_DEPTH`). Run it
again when the spec copy changes:

    .venv/bin/python scripts/fuzz_surface.py /work/shared/matrix-spec
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

OUTPUT = Path(__file__).resolve().parent.parent / "tests" / "security" / "client_server_surface.json"
METHODS = ("get", "put", "post", "delete")
MAX_FIELD_DEPTH = 4
MAX_FIELDS = 40


def _properties(schema: Any) -> dict[str, Any]:
    """The properties of an object schema, through ``allOf``/``oneOf``/``anyOf``."""
    if not isinstance(schema, dict):
        return {}
    found = dict(schema.get("properties") or {})
    for key in ("allOf", "oneOf", "anyOf"):
        for sub in schema.get(key) or []:
            for name, value in _properties(sub).items():
                found.setdefault(name, value)
    return found


def _fields(schema: Any, prefix: tuple[str, ...] = ()) -> list[list[str]]:
    paths: list[list[str]] = []
    if len(prefix) >= MAX_FIELD_DEPTH:
        return paths
    for name, sub in sorted(_properties(schema).items()):
        paths.append([*prefix, name])
        paths.extend(_fields(sub, (*prefix, name)))
    return paths


def _example(body: dict[str, Any]) -> Any:
    schema = body.get("schema") or {}
    if "example" in schema:
        return schema["example"]
    for example in (body.get("examples") or {}).values():
        if isinstance(example, dict) and "value" in example:
            return example["value"]
    return body.get("example")


def surface(spec_dir: Path) -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory() as tmp:
        bundle = Path(tmp) / "cs.json"
        subprocess.run(
            [sys.executable, str(spec_dir / "bundle_openapi.py"), "--inline", "-o", str(bundle)],
            check=True, capture_output=True,
        )
        api = json.loads(bundle.read_text())
    operations = []
    for path, item in sorted(api["paths"].items()):
        for method in METHODS:
            op = item.get(method)
            if op is None:
                continue
            params = [*item.get("parameters", []), *op.get("parameters", [])]
            content = (op.get("requestBody") or {}).get("content") or {}
            entry: dict[str, Any] = {
                "method": method.upper(),
                "path": path.strip(),  # (one path in the spec ends with a space)
                "path_params": [p["name"] for p in params if p["in"] == "path"],
                "query": sorted(p["name"] for p in params if p["in"] == "query"),
                "body": None,
            }
            if "application/json" in content:
                body = content["application/json"]
                example = _example(body)
                entry["body"] = {
                    "example": example if isinstance(example, dict) else {},
                    "fields": _fields(body.get("schema"))[:MAX_FIELDS],
                }
            elif content:
                entry["body"] = {"binary": True}
            operations.append(entry)
    return operations


def main() -> None:
    spec_dir = Path(sys.argv[1] if len(sys.argv) > 1 else "/work/shared/matrix-spec")
    operations = surface(spec_dir)
    version = (spec_dir / "VERSION").read_text().strip() if (spec_dir / "VERSION").exists() else "unknown"
    document = {"spec": version, "operations": operations}
    OUTPUT.write_text(json.dumps(document, indent=1, ensure_ascii=False, sort_keys=True) + "\n")
    print(f"wrote {OUTPUT}: {len(operations)} operations")


if __name__ == "__main__":
    main()
