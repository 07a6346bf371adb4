<?php
/**
 * The Admin CP session of a click whose process was killed from outside (plugins_admin.php could not
 * remove it): removed as the Admin CP's logout removes one. Run by forum/php.py's run_mybb_php; $input:
 * {session}.
 */

if (preg_match('/^[0-9a-f]{32}$/', (string)($input['session'] ?? ''))) {
	$db->delete_query('adminsessions', "sid='" . $db->escape_string($input['session']) . "'");
}
$result = true;
