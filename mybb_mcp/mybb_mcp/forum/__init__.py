"""What the forum is and what the tool does to it, one concern a module:

- `files`: inc/config.php, inc/settings.php, the version, bburl (read without running PHP).
- `database`: the database health check, and the settings table the development switches write.
- `error_log`: MyBB's own error log: where it goes, and reading its `<error>` blocks.
- `dev_mode`: development switches made in the forum (MyBB's error logging), and undoing them.
- `report`: the forum report status shows.
- `extensions`: the PHP extensions MyBB needs, and the Debian packages that bring them.
- `install`: a forum from a release archive, by MyBB's own installer; `source`: where that archive comes from.
- `php`: running MyBB's own PHP code (IN_MYBB + inc/init.php) for exact writes.
- `sessions`: each role's credentials and cookie jar; `requests`: a page as guest, a member or the
  admin, as a browser loads it (logins, my_post_key); `request_roles`: who sent each exchange.
- `snapshot/`: snapshots of the database and the files MyBB writes: save, restore, list, delete, diff.
- `init`: `init`, a forum from nothing (installed by `install`, then started by the service).
- `workbench/`: the workbench tools, one module each.
- `pages`: what a MyBB page says (error pages, login state, excerpt, selectors, debug report).

Nothing here imports the server (`orchestration`), the workbench (built on this package) or a face;
the service calls into these modules.
"""
