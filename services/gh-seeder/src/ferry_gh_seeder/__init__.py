"""ferry gh-seeder: crawl a project's GitHub pull requests with their reviews, commits and files.

Replaces the `seed_real_projects` management command (`gh-seeder.seed`). See `jobs.py` for how a
crawl is cut into steps, `store.py` for the tables, `checkpoint.py` for the JSON checkpoint file.

Calls are spread over the accounts of FERRY_GITHUB_TOKENS. A token pool only adds capacity across
distinct accounts (or GitHub Apps) that the operator is entitled to use: GitHub's terms forbid
sharing tokens to exceed its rate limits.
"""

SERVICE = "gh-seeder"
