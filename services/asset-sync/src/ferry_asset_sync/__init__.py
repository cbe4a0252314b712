"""ferry asset-sync: pull assets' READMEs from GitHub and clean them (replaces `pull_and_clean_assets`).

`urls.py` reads a `readme_url`, `github.py` fetches what an asset needs (conditional requests with
the stored ETags), `pull.py` applies it to the asset as the registry does, `cleaning.py` cleans the
README, `assets.py` is the table, `jobs.py` cuts a job into batches and per-asset steps.
"""

SERVICE = "asset-sync"
