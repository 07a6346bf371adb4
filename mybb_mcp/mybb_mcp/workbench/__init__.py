"""The workbench: what a plugin developer does to a forum besides reading errors, one module per tool,
each through MyBB's own code in a booted PHP child and each returning result data (`answers` renders it).

- `plugins` (+ `plugins_list.php`, `plugins_front.php`): list and check read in the Admin CP, the lifecycle's
  outcome; `plugin_admin` (+ `plugins_admin.php`): one click on the Admin CP's plugins page, run for real.
- `request_trace` (+ `request*.php`): one page request's trace (hooks, plugin functions, templates),
  plugins off for it, template names in eval()'d errors; behind the running server's secret.
- `request_costs` (+ `request_costs*.php`): that request's queries (caller, hook, plugin) and its plugin
  functions timed, through MyBB's own `$db` and hook loop; what PHP printed into its answer.
- `json_answer`: whether an answer that should be JSON is, and the warning or stray output that broke it.
- `sql`: read-only queries, enforced by the database connection; table descriptions.
- `members`: test members by MyBB's UserDataHandler.
- `templates`: a template in every set; a dry run, then MyBB's `find_replace_templatesets()`.
- `php_eval`: a PHP snippet inside the booted forum, bounded.
- `php_json`: what our PHP answers (JSON), read with checks where it is read.

A new workbench tool is a module here; it uses `forum` (files, `php`, snapshots) and nothing above it.
"""
