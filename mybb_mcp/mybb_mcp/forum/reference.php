<?php
/**
 * The reference's look into the forum's database, run by forum/php.py's run_mybb_php (`$result` answered):
 * the template sets each template exists in, the settings with their group and type, the datacache keys.
 * It reads only.
 *
 * Everything lives in functions: a top-level `return` would skip run_mybb_php's epilogue.
 */

/**
 * @return array
 */
function mybb_mcp_reference()
{
	global $db, $mybb;

	$sets = array(-2 => 'master', -1 => 'global');
	$query = $db->simple_select('templatesets', 'sid, title');
	while($set = $db->fetch_array($query))
	{
		$sets[(int)$set['sid']] = $set['title'];
	}

	$templates = array();
	$query = $db->simple_select('templates', 'title, sid');
	while($template = $db->fetch_array($query))
	{
		$templates[$template['title']][] = (int)$template['sid'];
	}

	$groups = array();
	$query = $db->simple_select('settinggroups', 'gid, name, title');
	while($group = $db->fetch_array($query))
	{
		$groups[(int)$group['gid']] = array('name' => $group['name'], 'title' => $group['title']);
	}

	$settings = array();
	$query = $db->simple_select('settings', 'name, title, description, optionscode, value, gid');
	while($setting = $db->fetch_array($query))
	{
		$group = isset($groups[(int)$setting['gid']]) ? $groups[(int)$setting['gid']] : array('name' => '', 'title' => '');
		$type = strtok(trim((string)$setting['optionscode']), "\n");
		$settings[] = array(
			'name' => $setting['name'],
			'title' => $setting['title'],
			'description' => my_substr((string)$setting['description'], 0, 200),
			'type' => $type === false ? '' : $type,
			'value' => my_substr((string)$setting['value'], 0, 300),
			'group' => $group['name'],
			'group_title' => $group['title'],
		);
	}

	$caches = array();
	$query = $db->simple_select('datacache', 'title, cache');
	while($entry = $db->fetch_array($query))
	{
		$caches[$entry['title']] = strlen((string)$entry['cache']);
	}

	return array(
		'version' => $mybb->version,
		'sets' => $sets,
		'templates' => $templates,
		'settings' => $settings,
		'caches' => $caches,
	);
}

$result = mybb_mcp_reference();
