"""ferry content-fetch: MCQs (Open Trivia DB format) and current affairs (RSS/Atom feeds) as jobs."""

SERVICE = "content-fetch"
