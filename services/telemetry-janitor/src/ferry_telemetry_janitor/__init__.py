"""ferry telemetry-janitor: delete LearnPack webhook rows fast and safely (`telemetry-janitor.clear`).

Replaces the `clear_learnpack_telemetry_queue` management command. See `jobs.py` for how a clear
is planned and cut into short keyset batches, and `settings.py` for where the rows live.
"""

SERVICE = "telemetry-janitor"
