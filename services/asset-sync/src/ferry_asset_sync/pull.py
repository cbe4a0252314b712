"""Pulling one asset from GitHub as the registry's `pull_from_github` does (docs/asset-sync.md):

- credentials: the asset owner's token when FERRY_ASSET_SYNC_OWNER_TOKENS has one, else the pool;
  neither: "System does not know what github credentials to use to retrieve asset info for: <slug>";
- the URL must be on github.com; the asset must have a language;
- LESSON and ARTICLE (and QUIZ, whose file is JSON) pull the file the URL names, which must say
  `blob/{branch}/...`; every other type is a LearnPack package: `README.md` (en/us) or
  `README.<lang>.md` beside the URL's path, and the first of learn.json, .learn/learn.json,
  bc.json, .learn/bc.json at the repository's root;
- front matter updates the asset on its first sync or with --force; a LearnPack configuration
  always does;
- every file is asked for with its stored ETag: when GitHub answers 304 to all of them the asset
  is `unchanged` (no quota spent) and only its sync time moves.

`pull` changes nothing itself: it returns the columns to write, so the step writes them in its
own transaction, with its checkpoint.
"""

from __future__ import annotations

import json
import posixpath
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ferry.contracts.asset_sync import SyncStatus
from ferry.github import AnyAccount, NoUsableTokens
from ferry_asset_sync import learnpack, meta
from ferry_asset_sync.assets import PullState
from ferry_asset_sync.errors import AssetError
from ferry_asset_sync.github import FileMissing, GitHubAccess, file_or_error, get_file, resolve_ref
from ferry_asset_sync.urls import LEARNPACK_CONFIGS, ReadmeURL, learnpack_readme, parse

NAMED_FILE = frozenset({"LESSON", "ARTICLE", "QUIZ"})
SYNCED = "Successfully Synched"
STARTING = "Starting to sync..."


@dataclass
class Pulled:
    """What a pull found: `outcome` pulled / unchanged / skipped, the columns to write, the state."""

    outcome: str
    updates: dict[str, Any] = field(default_factory=dict)
    state: PullState | None = None
    needs_clean: bool = False
    message: str = ""


def no_credentials(slug: str) -> AssetError:
    return AssetError(f"System does not know what github credentials to use to retrieve asset info for: {slug}")


async def ready(client: AnyAccount, slug: str) -> None:
    """Learn the tokens' accounts first (GET /user, once per token), so that the job's slot is taken
    right before the call it paces, not before an identity lookup."""
    try:
        await client.accounts()
    except NoUsableTokens as exc:
        raise AssetError(f"GitHub authentication failed for {slug}: {exc}") from None


def _text(content: bytes, path: str) -> str:
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError:
        raise AssetError(f"File '{path}' is not UTF-8 text") from None


def _synced(now: datetime) -> dict[str, Any]:
    return {"sync_status": SyncStatus.OK.value, "status_text": SYNCED, "last_synch_at": now}


async def pull(asset: dict[str, Any], state: PullState | None, access: GitHubAccess, *,
               override: bool, now: datetime) -> Pulled:
    """Pull one asset; AssetError (the registry's message) when it cannot be pulled."""
    slug = str(asset["slug"])
    if asset.get("external"):
        return Pulled("skipped", message=f"{slug} is hosted externally: not synced")
    client = access.client_for(asset.get("owner_key"))
    if client is None:
        raise no_credentials(slug)
    await ready(client, slug)
    url = parse(asset.get("readme_url"), slug)
    lang = asset.get("lang")
    if not lang:
        raise AssetError("Language for this asset is not defined, impossible to retrieve readme")
    known = state if state is not None and state.readme_url == asset["readme_url"] else None
    if asset["asset_type"] in NAMED_FILE:
        return await _named_file(asset, url, known, client, override=override, now=now)
    return await _learnpack(asset, url, known, client, str(lang), override=override, now=now)


async def _where(url: ReadmeURL, known: PullState | None, client: AnyAccount,
                 readme_url: str) -> tuple[str | None, str]:
    if known is not None:
        return known.ref, known.path
    if url.after_blob is None:
        raise AssetError(f"Lesson URL must include branch name after blob: {readme_url}")
    return await resolve_ref(client, url.full_name, url.after_blob, readme_url)


def _first_sync_or_override(asset: dict[str, Any], override: bool) -> bool:
    return override or asset.get("last_synch_at") is None


async def _named_file(asset: dict[str, Any], url: ReadmeURL, known: PullState | None, client: AnyAccount,
                      *, override: bool, now: datetime) -> Pulled:
    readme_url, is_quiz = str(asset["readme_url"]), asset["asset_type"] == "QUIZ"
    ref, path = await _where(url, known, client, readme_url)
    raw_before = asset.get("readme_raw")
    found = await file_or_error(
        client, url.full_name, path, ref, what="Quiz file" if is_quiz else "README file",
        etag=known.readme_etag if known else None, known=raw_before.encode() if raw_before else None,
    )
    state = PullState(readme_url, url.full_name, ref, path, path, found.etag)
    if found.unchanged:
        synced = _synced(now)
        if override and not is_quiz and raw_before:  # --force: the front matter wins again, from the same README
            synced = {**meta.from_front_matter(meta.front_matter(raw_before, path)), **synced}
        return Pulled("unchanged", synced, state, needs_clean=_clean_pending(asset) and not is_quiz,
                      message=f"{asset['slug']}: README unchanged (304)")
    text = _text(found.content, path)
    updates: dict[str, Any] = {"readme_raw": text}
    if is_quiz:
        try:
            updates["config"] = json.loads(text)
        except json.JSONDecodeError as exc:
            raise AssetError(f"Quiz file '{path}' is not JSON: {exc.msg} (line {exc.lineno})") from None
    elif _first_sync_or_override(asset, override):
        updates.update(meta.from_front_matter(meta.front_matter(text, path)))
    changed = text != raw_before
    if changed and not is_quiz:
        updates["cleaning_status"] = SyncStatus.PENDING.value
    return Pulled("pulled", {**updates, **_synced(now)}, state, needs_clean=not is_quiz and (
        changed or _clean_pending(asset)), message=f"{asset['slug']}: pulled {path}")


def _clean_pending(asset: dict[str, Any]) -> bool:
    return bool(asset.get("readme_raw")) and asset.get("cleaning_status") != SyncStatus.OK.value


async def _learnpack(asset: dict[str, Any], url: ReadmeURL, known: PullState | None, client: AnyAccount,
                     lang: str, *, override: bool, now: datetime) -> Pulled:
    readme_url, repo = str(asset["readme_url"]), url.full_name
    if url.after_blob:
        ref, path = await _where(url, known, client, readme_url)
        base = posixpath.dirname(path)
    else:
        ref, path, base = None, "", ""
    readme_path = learnpack_readme(base, lang)
    raw_before = asset.get("readme_raw")
    same_readme = known is not None and known.readme_path == readme_path
    readme = await file_or_error(
        client, repo, readme_path, ref, etag=known.readme_etag if same_readme and known else None,
        known=raw_before.encode() if raw_before else None,
    )
    config_before = asset.get("config")
    tried = ([known.config_path] if known and known.config_path else []) + [
        p for p in LEARNPACK_CONFIGS if not known or p != known.config_path
    ]
    config_file, config_path = None, None
    for candidate in tried:
        try:
            config_file = await get_file(
                client, repo, candidate, ref,
                etag=known.config_etag if known and candidate == known.config_path else None,
                known=json.dumps(config_before).encode() if isinstance(config_before, dict) else None,
            )
        except FileMissing:
            continue
        config_path = candidate
        break
    if config_file is None or config_path is None:
        raise AssetError("No configuration file (learn.json, bc.json) found")
    state = PullState(readme_url, repo, ref, path or readme_path, readme_path, readme.etag, config_path,
                      config_file.etag)
    if readme.unchanged and config_file.unchanged:
        synced = _synced(now)
        if override and raw_before:
            synced = {**meta.from_front_matter(meta.front_matter(raw_before, readme_path)), **synced}
        return Pulled("unchanged", synced, state, needs_clean=_clean_pending(asset),
                      message=f"{asset['slug']}: README and {config_path} unchanged (304)")
    text = _text(readme.content, readme_path)
    updates: dict[str, Any] = {"readme_raw": text}
    if _first_sync_or_override(asset, override):
        updates.update(meta.from_front_matter(meta.front_matter(text, readme_path)))
    try:
        config = json.loads(_text(config_file.content, config_path))
    except json.JSONDecodeError as exc:
        raise AssetError(f"{config_path} is not JSON: {exc.msg} (line {exc.lineno})") from None
    if not isinstance(config, dict):
        raise AssetError(f"{config_path} is not a JSON object")
    fields = learnpack.from_config(config, {**asset, **updates}, path=config_path)
    updates.update(fields.updates)
    changed = text != raw_before
    if changed:
        updates["cleaning_status"] = SyncStatus.PENDING.value
    warned = "".join(f" ({config_path}: {warning})" for warning in fields.warnings)
    return Pulled("pulled", {**updates, **_synced(now)}, state, needs_clean=changed or _clean_pending(asset),
                  message=f"{asset['slug']}: pulled {readme_path} and {config_path}{warned}")
