"""Shared plumbing for the corpus builders: read pinned files out of mirrored public
repositories, normalise and deduplicate rows, and write them with their manifest entry.

Every builder pins each source to one commit. The mirrors are git directories made by the
`fetch` tool at /work/.mirror/<owner>+<name>/repo (override with PSF_MIRROR); nothing here
touches the network.
"""

import csv
import gzip
import hashlib
import io
import json
import os
import subprocess
import unicodedata

MIRROR = os.environ.get("PSF_MIRROR", "/work/.mirror")
HERE = os.path.dirname(os.path.abspath(__file__))

# The maintainers' reserved sources: never read, never trained on (DEVELOPERS.md).
RESERVED = (
    "humancompatibleai/tensor-trust-data",
    "jailbreakbench",
    "microsoft/bipia",
    "lmarena/arena-hard-auto",
    "leolee99/injecguard",
    "allenai/wildguardmix",
    "microsoft/presidio-research",
    "trufflesecurity/trufflehog",
    "azure/pyrit",
    "llm-attacks",
)


def git_dir(repo):
    """The mirrored git directory of `owner/name`."""
    lowered = repo.lower()
    if any(reserved in lowered for reserved in RESERVED):
        raise SystemExit(f"{repo} is a reserved source and must not be read")
    path = os.path.join(MIRROR, repo.replace("/", "+"), "repo")
    if not os.path.isdir(path):
        raise SystemExit(f"{repo} is not mirrored at {path}; fetch github:{repo} first")
    return path


def show(repo, commit, path):
    """The bytes of `path` at `commit` in the mirror of `repo`."""
    return subprocess.run(
        ["git", "--git-dir", git_dir(repo), "show", f"{commit}:{path}"],
        check=True,
        capture_output=True,
    ).stdout


def show_text(repo, commit, path):
    return show(repo, commit, path).decode("utf-8", errors="replace")


def files(repo, commit, under=""):
    """Every file path under `under` at `commit`."""
    out = subprocess.run(
        ["git", "--git-dir", git_dir(repo), "ls-tree", "-r", "--name-only", commit, "--", under],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return [line for line in out.splitlines() if line]


def clean(text):
    """NFC, no NULs, trimmed; None when nothing useful is left."""
    if not isinstance(text, str):
        return None
    text = unicodedata.normalize("NFC", text.replace("\x00", "")).strip()
    return text if len(text) >= 8 else None


def key(text):
    """The deduplication key: case- and whitespace-insensitive."""
    return hashlib.sha1(" ".join(text.lower().split()).encode()).hexdigest()


def write_source(task, name, source, rows, cap=None):
    """Writes `rows` (dicts with at least text and label) for one source to
    models/corpus/<task>/<name>.jsonl, deduplicated and capped, and returns its manifest
    entry. `source` holds repo, commit, paths and licence."""
    seen, kept = set(), []
    for row in rows:
        text = clean(row.get("text"))
        if text is None or key(text) in seen:
            continue
        seen.add(key(text))
        # The repository travels with each row: validation holds out a whole repository,
        # so copies of one dataset under two names cannot leak into each other.
        kept.append({**row, "text": text, "task": task, "source": name, "repo": row.get("repo") or source.get("repo") or name})
    kept.sort(key=lambda r: key(r["text"]))  # stable and order-free, so a cap is a fair sample
    if cap is not None:
        by_label = {}
        for row in kept:
            by_label.setdefault(row["label"], []).append(row)
        kept = [row for label_rows in by_label.values() for row in label_rows[:cap]]
    os.makedirs(os.path.join(HERE, task), exist_ok=True)
    out = os.path.join(HERE, task, f"{name.replace('/', '_')}.jsonl")
    with open(out, "w", encoding="utf-8") as handle:
        for row in kept:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    counts = {}
    for row in kept:
        counts[row["label"]] = counts.get(row["label"], 0) + 1
    return {"task": task, "source": name, **source, "file": os.path.relpath(out, HERE), "rows": counts}


def write_manifest(part, entries):
    """models/corpus/manifest.<part>.json: one entry per source."""
    with open(os.path.join(HERE, f"manifest.{part}.json"), "w", encoding="utf-8") as handle:
        json.dump(entries, handle, indent=2, ensure_ascii=False)
        handle.write("\n")


# Rows are cut to this many characters (the corpus has a size budget).
MAX_CHARS = 6000


def src(pin, paths, licence, note, **extra):
    """A manifest entry's provenance: repository, commit, paths, licence and a note."""
    return {"repo": pin[0], "commit": pin[1], "paths": paths, "licence": licence, "note": note, **extra}


def cut(text, limit=MAX_CHARS):
    return text[:limit] if isinstance(text, str) else text


def row(text, label, role, **meta):
    out = {"text": cut(text), "label": label, "role": role}
    if meta:
        out["meta"] = meta
    return out


def jload(pin, path):
    return json.loads(show_text(pin[0], pin[1], path))


def jsonl(pin, path, gz=False):
    data = show(pin[0], pin[1], path)
    if gz:
        data = gzip.decompress(data)
    return [json.loads(line) for line in data.decode("utf-8").splitlines() if line.strip()]


def csv_rows(pin, path):
    text = show_text(pin[0], pin[1], path).lstrip("\ufeff")
    return list(csv.DictReader(io.StringIO(text)))
