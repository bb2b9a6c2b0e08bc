"""The mapping file of ``kb_ingest --mapping``: which departments each file is limited to.

YAML or JSON, a mapping from a file (its path relative to the folder given to ``kb_ingest``, or
its name) to a department or a list of departments, each by slug or by name::

    internal/collections-notes.md: [collections]
    pricing-2026.pdf: Sales

A file not in the mapping is unrestricted (every department may quote it).
"""
from __future__ import annotations

import json
from pathlib import Path


class MappingError(ValueError):
    pass


def mapping_load(path: str | Path) -> dict[str, list[str]]:
    """{file: [department references]} from the file; MappingError on a malformed one."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise MappingError(f"{path}: cannot read: {exc}") from exc
    try:
        if path.suffix.lower() in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text)
        else:
            data = json.loads(text)
    except Exception as exc:
        raise MappingError(f"{path}: not valid {'YAML' if path.suffix.lower() in ('.yaml', '.yml') else 'JSON'}: {exc}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise MappingError(f"{path}: must map file names to departments")
    out: dict[str, list[str]] = {}
    for key, value in data.items():
        refs = [value] if isinstance(value, str) else value
        if not isinstance(refs, list) or not refs or not all(isinstance(r, str) and r.strip() for r in refs):
            raise MappingError(f"{path}: {key}: must be a department or a list of departments")
        out[str(key).strip("/")] = [r.strip() for r in refs]
    return out


def mapping_resolve(mapping: dict[str, list[str]]) -> dict[str, list]:
    """{file: [Department]}: every reference resolved by slug or name; MappingError lists the unknown."""
    from apps.departments.models import Department

    departments = list(Department.objects.all())
    lookup = {}
    for d in departments:
        lookup[d.slug] = d
        lookup[d.name.casefold()] = d
    unknown, out = [], {}
    for key, refs in mapping.items():
        found = []
        for ref in refs:
            dept = lookup.get(ref) or lookup.get(ref.casefold())
            if dept is None:
                unknown.append(f"{key}: unknown department {ref!r}")
            else:
                found.append(dept)
        out[key] = found
    if unknown:
        raise MappingError("; ".join(unknown))
    return out


def mapping_for(resolved: dict[str, list], relative: str, name: str):
    """The departments for one file (by relative path, else by name), or None when unmapped."""
    if relative in resolved:
        return resolved[relative]
    return resolved.get(name)
