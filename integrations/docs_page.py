"""The API docs page: the OpenAPI schema turned into a plain, readable page on the server (drf-spectacular's Swagger
UI and Redoc views load their JavaScript from a CDN, which we do not depend on)."""

from __future__ import annotations

import functools
import json
import re

from django.utils.html import escape
from django.utils.safestring import mark_safe

METHODS = ("get", "post", "put", "patch", "delete")


@functools.cache
def schema() -> dict:
    from drf_spectacular.generators import SchemaGenerator

    return SchemaGenerator(urlconf="quizmarker.urls_tenant").get_schema(request=None, public=True)


def _ref_name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def type_of(node: dict | None) -> str:
    """A short, readable type: ``string (uuid)``, ``array of Job``, ``Job``..."""
    if not node:
        return "any"
    if "$ref" in node:
        return _ref_name(node["$ref"])
    for combinator in ("allOf", "oneOf", "anyOf"):
        if combinator in node:
            return " | ".join(type_of(part) for part in node[combinator])
    kind = node.get("type", "object")
    if kind == "array":
        return f"array of {type_of(node.get('items'))}"
    if node.get("enum"):
        return f"{kind}: " + ", ".join(json.dumps(v) for v in node["enum"])
    if node.get("format"):
        return f"{kind} ({node['format']})"
    if kind == "object" and node.get("properties") and "data" in node["properties"]:
        return f"envelope of {type_of(node['properties']['data'])}"
    return kind + (" or null" if node.get("nullable") else "")


def _markdown(text: str) -> str:
    """Just enough Markdown for our descriptions: headings, paragraphs, indented code and `code`."""
    html = []
    for block in re.split(r"\n\s*\n", (text or "").strip()):
        if block.startswith("## "):
            html.append(f"<h2>{escape(block[3:].strip())}</h2>")
        elif block.startswith("    "):
            html.append(f"<pre>{escape(block)}</pre>")
        else:
            lines = block.split("\n")
            if lines[0].startswith("## "):
                html.append(f"<h2>{escape(lines[0][3:].strip())}</h2>")
                lines = lines[1:]
            paragraph = escape(" ".join(lines))
            html.append("<p>" + re.sub(r"`([^`]+)`", r"<code>\1</code>", paragraph) + "</p>")
    return mark_safe("\n".join(html))


def _fields(node: dict, components: dict) -> list[dict]:
    if "$ref" in node:
        node = components.get(_ref_name(node["$ref"]), {})
    required = set(node.get("required", []))
    return [
        {
            "name": name,
            "type": type_of(prop),
            "required": name in required,
            "description": prop.get("description", ""),
        }
        for name, prop in (node.get("properties") or {}).items()
    ]


def operations(document: dict) -> list[dict]:
    components = document.get("components", {}).get("schemas", {})
    result = []
    for path, item in document.get("paths", {}).items():
        for method in METHODS:
            operation = item.get(method)
            if not operation:
                continue
            request = []
            for media_type, media in (operation.get("requestBody") or {}).get("content", {}).items():
                request.append(
                    {
                        "media_type": media_type,
                        "type": type_of(media.get("schema")),
                        "fields": _fields(media.get("schema") or {}, components),
                    }
                )
            responses = []
            for code, response in operation.get("responses", {}).items():
                media = (response.get("content") or {}).get("application/json", {})
                example = next(iter((media.get("examples") or {}).values()), {}).get("value")
                responses.append(
                    {
                        "code": code,
                        "description": response.get("description", ""),
                        "type": type_of(media.get("schema")) if media else "",
                        "example": json.dumps(example, indent=2) if example is not None else "",
                    }
                )
            result.append(
                {
                    "anchor": operation["operationId"],
                    "method": method.upper(),
                    "path": path,
                    "tag": (operation.get("tags") or ["other"])[0],
                    "summary": operation.get("summary", ""),
                    "description": _markdown(operation.get("description", "")),
                    "parameters": [
                        {
                            "name": p["name"],
                            "in": p["in"],
                            "type": type_of(p.get("schema")),
                            "required": p.get("required", False),
                            "description": p.get("description", ""),
                        }
                        for p in operation.get("parameters", [])
                    ],
                    "request": request,
                    "responses": responses,
                    "auth": [name for entry in operation.get("security", []) for name in entry] or ["none"],
                }
            )
    return result


def context(request) -> dict:
    document = schema()
    ops = operations(document)
    tags: dict[str, list] = {}
    for op in ops:
        tags.setdefault(op["tag"], []).append(op)
    components = document.get("components", {}).get("schemas", {})
    return {
        "info": document["info"],
        "description": _markdown(document["info"].get("description", "")),
        "tags": tags,
        "components": [
            {"name": name, "type": type_of(node), "fields": _fields(node, components)}
            for name, node in sorted(components.items())
        ],
        "schema_url": "/api/v1/schema",
        "base_url": request.build_absolute_uri("/").rstrip("/"),
    }
