"""What asset-sync raises (on top of the job runtime's `ferry.jobs.errors` and the GitHub client's).

    AssetSyncError       base of asset-sync's own failures
     ├── AssetError      one asset cannot be pulled: its sync_status becomes ERROR with this message
     ├── CleaningError   one asset's README cannot be cleaned: cleaning_status ERROR with this message
     └── TableNotFound   FERRY_ASSET_SYNC_TABLE names no table with the registry's asset fields

An `AssetError` or `CleaningError` is that asset's failure (counted, reported, the job goes on);
`TableNotFound` stops the service at start-up and fails a job that meets it.
"""

from __future__ import annotations


class AssetSyncError(Exception):
    """Base of asset-sync's own failures."""


class AssetError(AssetSyncError):
    """This asset cannot be pulled; the message is what its status_text says."""


class CleaningError(AssetSyncError):
    """This asset's README cannot be cleaned; the message is its cleaning_status_details."""


class TableNotFound(AssetSyncError):
    """The configured assets table is missing, or lacks the fields asset-sync works with."""
