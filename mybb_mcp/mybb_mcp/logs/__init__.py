"""The log engine: the server log and MyBB's own error log, read fast and safely, whatever they hold.

- `parser`: a line or an entry -> `LogEntry` (levels, locations, origins, continuation lines).
- `bounds`: the hard limits on what one query holds and answers.
- `reader`: reading entries in blocks, both directions, across blocks and generations; `finders`: the
  byte-level searches that skip what cannot match; `timeline`: finding a time in the log; `zone`: the
  zone header each log starts with; `rotation`: generations (`server.log.1` ...) and rotating them.
- `options`: a query's options, checked; `match`: a keyword or a page's path matched against an entry
  and its request; `query`: filters, sources merged by time, paging, the answer budget ->
  `LogQueryResult`; `context`: the request an error belongs to; `forgery`: entries that begin inside
  request data.
- `cursors`: marks in the logs and what is new since one; `cursor_errors`: a cursor read's errors as
  queries show them; `exchanges`: the errors of given requests; `digest`: errors grouped by
  fingerprint, new / still firing / resolved; `compile_time`: diagnostics OPcache never repeats.
- `follow`: following a log as it grows, through rotations, without losing or repeating a line.

Nothing here renders markdown (that is `answers`) or knows a face; the service calls into it.
"""
