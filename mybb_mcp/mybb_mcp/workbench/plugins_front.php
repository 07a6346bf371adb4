<?php
/**
 * check's front-end half, run by forum/php.py's run_mybb_php (MyBB booted as a page, no Admin CP): the
 * plugin loaded there and the hooks MyBB then holds for it. $input: {library, name}.
 */

require_once $input['library'];
$result = mybb_mcp_front_end_hooks((string)$input['name']);
