<?php
/**
 * The forum's users, first `limit` by uid, and how many there are; run by forum/php.py's run_mybb_php.
 * $input: {limit}. $result: {total, rows: [{uid, username, usergroup, additionalgroups, email}]}.
 */

$query = $db->simple_select('users', 'uid, username, usergroup, additionalgroups, email', '', array(
	'order_by' => 'uid',
	'limit' => (int)$input['limit'],
));

$rows = array();
while($row = $db->fetch_array($query))
{
	$rows[] = $row;
}

$query = $db->simple_select('users', 'COUNT(*) AS n');
$result = array('total' => (int)$db->fetch_field($query, 'n'), 'rows' => $rows);
