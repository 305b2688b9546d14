"""The fetch side of each source kind: I/O only, returning an `Observation` (plain data).

`feed` and `page` fetch over HTTP (`tracker.http`), `hub` through the Hub client
(`hubclient`). Nothing here decides what changed: that is `tracker.detect`, and
`tracker.kinds` declares each kind with its fetch and its detection side by side.
"""
