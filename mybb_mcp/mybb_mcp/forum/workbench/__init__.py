"""The workbench: what a plugin developer does to a forum besides reading errors.

One module per tool: plugins (lifecycle through MyBB's own code, hook checks), sql (read-only queries
enforced by the database connection), members (MyBB's user data handler), templates (MyBB's own
find_replace_templatesets), php (a snippet inside the booted forum). Each returns result data; the
answers package renders it.
"""
