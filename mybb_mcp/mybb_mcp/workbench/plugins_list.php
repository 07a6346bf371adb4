<?php
/**
 * list and check, run by plugins_admin.php inside the Admin CP's plugins page (admin_config_plugins_begin):
 * each plugin file loaded and its _info, _is_installed and compatibility read as that page reads them,
 * with IN_ADMINCP, MYBB_ADMIN_DIR, the admin functions, $page and the admin language in place.
 */

const MYBB_MCP_LIFECYCLE = array('info', 'is_installed', 'install', 'activate', 'deactivate', 'uninstall');

function mybb_mcp_describe($codename)
{
	global $plugins, $mybb_mcp_out;
	$entry = array('codename' => $codename, 'functions' => array(), 'problems' => array());
	$before = count($mybb_mcp_out['problems']);
	try {
		require_once MYBB_ROOT . "inc/plugins/{$codename}.php";
		foreach (MYBB_MCP_LIFECYCLE as $part) {
			if (function_exists("{$codename}_{$part}")) {
				$entry['functions'][] = $part;
			}
		}
		$info = function_exists("{$codename}_info") ? call_user_func("{$codename}_info") : null;
		$entry['info'] = is_array($info) ? array_map(static function ($v) {
			return is_scalar($v) ? (string)$v : null;
		}, $info) : null;
		$entry['compatible'] = (bool)$plugins->is_compatible($codename);
		$function = "{$codename}_is_installed";
		$entry['installed'] = function_exists($function) ? (bool)$function() : null;
	} catch (Throwable $e) {
		mybb_mcp_note(get_class($e), $e->getMessage(), $e->getFile(), $e->getLine(), $e->getTrace());
	}
	// What loading it raised is this plugin's, not the page's.
	$entry['problems'] = array_splice($mybb_mcp_out['problems'], $before);
	return $entry;
}

function mybb_mcp_plugin_files()
{
	$found = array();
	foreach (scandir(MYBB_ROOT . 'inc/plugins/') ?: array() as $file) {
		if (preg_match('/^([A-Za-z0-9_]+)\.php$/', $file, $match) && is_file(MYBB_ROOT . 'inc/plugins/' . $file)) {
			$found[] = $match[1];
		}
	}
	sort($found);
	return $found;
}

function mybb_mcp_describe_answer(array $input)
{
	global $mybb;
	$answer = array('mybb_version' => $mybb->version, 'version_code' => $mybb->version_code,
		'active' => mybb_mcp_active());
	if ($input['mode'] === 'list') {
		$answer['plugins'] = array();
		foreach (mybb_mcp_plugin_files() as $codename) {
			$answer['plugins'][] = mybb_mcp_describe($codename);
		}
		return $answer;
	}
	$answer['plugin'] = mybb_mcp_describe((string)$input['name']);
	$exists = array();
	foreach ($input['functions'] ?? array() as $function) {
		$exists[$function] = is_string($function) && function_exists($function);
	}
	$answer['functions_exist'] = $exists;
	return $answer;
}
