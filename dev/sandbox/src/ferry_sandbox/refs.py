"""Branches, tags and per-ref contents for the sandbox, as GitHub serves them:

    GET /repos/{o}/{r}/git/matching-refs/heads/{prefix}   refs whose name starts with the prefix ([] if none)
    GET /repos/{o}/{r}/git/matching-refs/tags/{prefix}
    GET /repos/{o}/{r}/git/ref/heads/{name}               one ref, 404 "Not Found" if missing
    GET /repos/{o}/{r}/contents/{path}?ref={branch|tag}   the file on that ref; an unknown ref is
                                                          404 "No commit found for the ref {ref}"

A repository's default branch holds its `files`; `branches` and `tags` of its config hold the
files of every other ref. `demo_repos()` are the repositories the demo assets point at (lessons
with front matter, LearnPack packages with learn.json / bc.json, READMEs per language, a private
repository), served by the default config.
"""

from __future__ import annotations

import re
from typing import Any

from ferry_sandbox.config import RepoConfig
from ferry_sandbox.data import sha

ROUTES = [
    (re.compile(r"^(?:repos/(?P<owner>[^/]+)/(?P<name>[^/]+)|repositories/(?P<rid>\d+))"
                r"/git/matching-refs/(?P<kind>heads|tags)(?:/(?P<prefix>.*))?$"), "matching_refs"),
    (re.compile(r"^(?:repos/(?P<owner>[^/]+)/(?P<name>[^/]+)|repositories/(?P<rid>\d+))"
                r"/git/ref/(?P<kind>heads|tags)/(?P<prefix>.+)$"), "ref"),
]


def refs_of(repo: RepoConfig, kind: str) -> list[str]:
    if kind == "heads":
        return sorted({repo.default_branch, *repo.branches})
    return sorted(repo.tags)


def ref_object(repo: RepoConfig, kind: str, name: str, api: str) -> dict[str, Any]:
    digest = sha(repo.full_name, kind, name)
    return {"ref": f"refs/{kind}/{name}", "node_id": f"REF_{digest[:16]}",
            "url": f"{api}/repos/{repo.full_name}/git/refs/{kind}/{name}",
            "object": {"sha": digest, "type": "commit", "url": f"{api}/repos/{repo.full_name}/git/commits/{digest}"}}


def files_at(repo: RepoConfig, default_files: dict[str, str], ref: str | None) -> dict[str, str] | None:
    """The files on `ref` (None: the default branch); None when the repository has no such ref."""
    if ref is None or ref in (repo.default_branch, f"refs/heads/{repo.default_branch}"):
        return default_files
    name = ref.removeprefix("refs/heads/").removeprefix("refs/tags/")
    if name in repo.branches:
        return repo.branches[name]
    if name in repo.tags:
        return repo.tags[name]
    return None


def _lesson(title: str, lang: str, body: str) -> str:
    excerpt = "Aprende lo básico" if lang == "es" else "Learn the basics"
    return (f"---\ntitle: \"{title}\"\nexcerpt: \"{excerpt}\"\ntags: [\"python\", \"beginner\"]\n"
            "authors: [\"alesanchezr\"]\n"
            f"table_of_contents: true\n---\n\n# {title}\n\n![diagram](./img/diagram.png)\n\n<!-- hide -->\n"
            f"Notes for the teacher only.\n<!-- endhide -->\n\n{body}\n\n```md\n<!-- hide -->\n"
            "![kept](./img/in-code.png)\n```\n")


def _learnpack(title_en: str, title_es: str, **extra: Any) -> str:
    import json

    config = {"slug": title_en.lower().replace(" ", "-"), "title": {"us": title_en, "es": title_es},
              "description": {"us": f"{title_en}, step by step.", "es": f"{title_es}, paso a paso."},
              "preview": "https://github.com/4geeks-demo/assets/raw/main/preview.png", "difficulty": "beginner",
              "duration": 2, "video": {"intro": "https://youtu.be/intro", "solution": "https://youtu.be/solution"},
              "technologies": ["html", "css"], **extra}
    return json.dumps(config, indent=2) + "\n"


def demo_repos() -> list[RepoConfig]:
    """The repositories the demo assets (and asset-sync's tests) point at."""
    lessons = {
        f"lessons/{slug}/README{suffix}.md": _lesson(title, lang, body)
        for slug, title, lang, suffix, body in [
            ("intro-to-python", "Intro to Python", "en", "", "Python is a programming language."),
            ("intro-to-python", "Introducción a Python", "es", ".es", "Python es un lenguaje de programación."),
            ("what-is-html", "What is HTML", "en", "", "HTML structures the web."),
            ("what-is-html", "Qué es HTML", "es", ".es", "HTML estructura la web."),
            ("css-layouts", "Layouts con CSS", "es", ".es", "Flexbox y grid."),
        ]
    }
    lessons["lessons/broken-hide/README.es.md"] = "# Roto\n\n<!-- hide -->\nNunca cierra.\n"
    return [
        RepoConfig(owner="4geeks-demo", name="lessons", pulls=0, files=lessons,
                   branches={"feature/new-intro": {"docs/intro.md": _lesson("New intro", "en", "Draft.")}},
                   tags={"v1.0": {"lessons/intro-to-python/README.md": _lesson("Intro (v1.0)", "en", "Old.")}}),
        RepoConfig(owner="4geeks-demo", name="html-hello", pulls=0, files={
            "README.md": "# Hello HTML\n\n![preview](./preview.png)\n\nWrite your first page.\n",
            "README.es.md": "# Hola HTML\n\n![preview](./preview.png)\n\nEscribe tu primera página.\n",
            "learn.json": _learnpack("Hello HTML", "Hola HTML"),
        }),
        RepoConfig(owner="4geeks-demo", name="todo-project", pulls=0, default_branch="master", files={
            "README.md": "# Todo list\n\nBuild a todo list with React.\n",
            ".learn/bc.json": _learnpack("Todo list", "Lista de tareas", template_url="https://github.com/4geeks-demo/react-template"),
        }),
        RepoConfig(owner="4geeks-demo", name="no-config", pulls=0, files={"README.md": "# No config\n"}),
        RepoConfig(owner="4geeks-demo", name="no-preview", pulls=0, files={
            "README.md": "# No preview\n", "learn.json": '{"title": "No preview"}\n',
        }),
        RepoConfig(owner="4geeks-demo", name="private-course", pulls=0, visible_to=[],
                   files={"lessons/secret/README.md": "---\ntitle: Secret\n---\n\n# Secret\n"}),
    ]
