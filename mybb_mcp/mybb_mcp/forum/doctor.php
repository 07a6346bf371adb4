<?php
/**
 * The doctor's look inside the booted forum, run by forum/php.py's run_mybb_php (`$result` answered).
 *
 * It reads, never writes: the caches MyBB would rebuild are built by MyBB's own datacache methods
 * into a copy of the datacache whose update() keeps the result instead of storing it.
 *
 * Everything lives in functions: a top-level `return` would skip run_mybb_php's epilogue.
 */

/** MyBB's datacache, with update() answering into a list instead of the database. */
final class MybbMcpDoctorCache extends datacache
{
	public $made = array();

	public function update($name, $contents)
	{
		$this->made[$name] = $contents;
	}
}

// The datacache entries whose rebuild depends only on the tables they summarise (no clock, no counters
// that move on every visit).
const MYBB_MCP_REBUILT_CACHES = array(
	'version', 'attachtypes', 'smilies', 'posticons', 'badwords', 'usergroups', 'forumpermissions',
	'moderators', 'forums', 'usertitles', 'mycode', 'default_theme', 'bannedips', 'bannedemails', 'spiders',
	'groupleaders', 'threadprefixes', 'forumsdisplay', 'profilefields', 'reportreasons',
);

/**
 * The settings table against inc/settings.php: names whose value differs, missing from the file, or only there.
 *
 * @return array
 */
function mybb_mcp_doctor_settings()
{
	global $db;

	$settings = array();
	$file = MYBB_ROOT.'inc/settings.php';
	if(is_file($file))
	{
		include $file;
	}
	$differ = $missing = array();
	$seen = array();
	$query = $db->simple_select('settings', 'name, value');
	while($setting = $db->fetch_array($query))
	{
		$seen[$setting['name']] = true;
		if(!array_key_exists($setting['name'], $settings))
		{
			$missing[] = $setting['name'];
		}
		elseif((string)$settings[$setting['name']] !== (string)$setting['value'])
		{
			$differ[] = $setting['name'];
		}
	}
	$extra = array_values(array_diff(array_keys($settings), array_keys($seen)));
	sort($differ);
	sort($missing);
	sort($extra);

	return array('file' => is_file($file), 'differ' => $differ, 'missing' => $missing, 'extra' => $extra);
}

/**
 * Stylesheets whose cache file (as resync_stylesheet() looks for it) is missing.
 *
 * @return array
 */
function mybb_mcp_doctor_stylesheets()
{
	global $db;

	$missing = array();
	$query = $db->simple_select('themestylesheets', 'sid, tid, name, cachefile');
	while($sheet = $db->fetch_array($query))
	{
		if(!$sheet['cachefile'] || strpos($sheet['cachefile'], 'css.php') !== false)
		{
			continue;
		}
		$tid = (int)$sheet['tid'];
		if(!file_exists(MYBB_ROOT."cache/themes/theme{$tid}/{$sheet['name']}") &&
			!file_exists(MYBB_ROOT."cache/themes/{$tid}_{$sheet['name']}"))
		{
			$missing[] = array('sid' => (int)$sheet['sid'], 'tid' => $tid, 'name' => $sheet['name']);
		}
	}

	return $missing;
}

/**
 * Nothing to cache: no entry, or update_forumpermissions()'s array(0) when no forum has custom permissions.
 *
 * @param mixed $value
 * @return bool
 */
function mybb_mcp_doctor_empty($value)
{
	return empty($value) || $value === array(0);
}

/**
 * The datacache entries MyBB's own update_*() methods would now build differently.
 *
 * @return array
 */
function mybb_mcp_doctor_caches()
{
	global $cache;

	$probe = new MybbMcpDoctorCache;
	$differ = array();
	foreach(MYBB_MCP_REBUILT_CACHES as $name)
	{
		$method = 'update_'.$name;
		if(!method_exists($probe, $method))
		{
			continue;
		}
		$probe->made = array();
		$probe->$method();
		if(!array_key_exists($name, $probe->made))
		{
			continue;
		}
		$stored = $cache->read($name, true);
		$made = $probe->made[$name];
		// Loose: the database gives strings where the rebuild may hold numbers; the order of keys is not data.
		if($stored != $made && !(mybb_mcp_doctor_empty($stored) && mybb_mcp_doctor_empty($made)))
		{
			$differ[] = $name;
		}
	}

	return $differ;
}

/**
 * @return array
 */
function mybb_mcp_doctor()
{
	global $cache, $db, $mybb;

	$plugins = $cache->read('plugins');
	$active = (is_array($plugins) && isset($plugins['active']) && is_array($plugins['active'])) ?
		array_values($plugins['active']) : array();
	$titles = array();
	$query = $db->simple_select('templates', 'DISTINCT title');
	while($template = $db->fetch_array($query))
	{
		$titles[] = $template['title'];
	}

	return array(
		'version' => $mybb->version,
		'active_plugins' => $active,
		'settings' => mybb_mcp_doctor_settings(),
		'stylesheets' => mybb_mcp_doctor_stylesheets(),
		'caches' => mybb_mcp_doctor_caches(),
		'template_titles' => $titles,
		'values' => array(
			'bburl' => (string)$mybb->settings['bburl'],
			'cookiedomain' => (string)$mybb->settings['cookiedomain'],
			'cookiepath' => (string)$mybb->settings['cookiepath'],
			'cookiesecureflag' => (string)$mybb->settings['cookiesecureflag'],
			'boardclosed' => (string)$mybb->settings['boardclosed'],
		),
	);
}

$result = mybb_mcp_doctor();
