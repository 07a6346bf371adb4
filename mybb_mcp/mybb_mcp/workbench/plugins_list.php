<?php
/**
 * list and check, run by plugins_admin.php inside the Admin CP's plugins page (admin_config_plugins_begin):
 * each plugin file loaded and its _info, _is_installed and compatibility read as that page reads them,
 * with IN_ADMINCP, MYBB_ADMIN_DIR, the admin functions, $page and the admin language in place. check also
 * reads the hooks the plugin registered from MyBB's own `$plugins->hooks` (so names it computes count);
 * plugins.py asks the same of the front end (mybb_mcp_front_end_hooks, with MyBB booted as a page).
 */

const MYBB_MCP_LIFECYCLE = array('info', 'is_installed', 'install', 'activate', 'deactivate', 'uninstall');

function mybb_mcp_describe($codename, $with_hooks = false)
{
	// The plugins page loads plugin files at the top level: their top-level code sees MyBB's globals.
	global $mybb, $db, $cache, $plugins, $lang, $templates, $page, $config, $mybb_mcp_out;
	$entry = array('codename' => $codename, 'functions' => array(), 'problems' => array());
	$before = count($mybb_mcp_out['problems']);
	$hooks_before = mybb_mcp_hook_keys();
	try {
		require_once MYBB_ROOT . "inc/plugins/{$codename}.php";
		if ($with_hooks) {
			$entry['hooks'] = mybb_mcp_registered_hooks($codename, $hooks_before);
		}
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
	$answer['plugin'] = mybb_mcp_describe((string)$input['name'], true);
	$exists = array();
	foreach ($input['functions'] ?? array() as $function) {
		$exists[$function] = is_string($function) && function_exists($function);
	}
	$answer['functions_exist'] = $exists;
	return $answer;
}

/** Every entry of MyBB's $plugins->hooks, as keys: what was registered before a plugin file is loaded. */
function mybb_mcp_hook_keys()
{
	global $plugins;
	$keys = array();
	foreach ($plugins->hooks as $hook => $priorities) {
		foreach ($priorities as $priority => $entries) {
			foreach ($entries as $key => $entry) {
				$keys["{$hook}\0{$priority}\0{$key}"] = true;
			}
		}
	}
	return $keys;
}

/** The hooks MyBB holds for the plugin: added by loading its file, or calling a function defined in it. */
function mybb_mcp_registered_hooks($codename, array $before)
{
	global $plugins;
	$file = realpath(MYBB_ROOT . "inc/plugins/{$codename}.php");
	$found = array();
	foreach ($plugins->hooks as $hook => $priorities) {
		foreach ($priorities as $priority => $entries) {
			foreach ($entries as $key => $entry) {
				$callable = $entry['class_method'] ?? ($entry['function'] ?? null);
				list($name, $defined) = mybb_mcp_callable($callable);
				$new = !isset($before["{$hook}\0{$priority}\0{$key}"]);
				if (!$new && ($defined === null || $defined[0] !== $file)) {
					continue;
				}
				$found[] = array('hook' => (string)$hook, 'priority' => (int)$priority, 'function' => $name,
					'exists' => $defined !== null,
					'at' => $defined ? mybb_mcp_forum_path($defined[0]) . ':' . $defined[1] : null);
			}
		}
	}
	return $found;
}

/** A hook's callable: its name, and where it is defined (null: it does not exist, MyBB would stop there). */
function mybb_mcp_callable($callable)
{
	try {
		if (is_string($callable)) {
			if (!function_exists($callable)) {
				return array($callable, null);
			}
			$reflection = new ReflectionFunction($callable);
			return array($callable, array($reflection->getFileName(), $reflection->getStartLine()));
		}
		if (is_array($callable) && count($callable) == 2) {
			$class = is_object($callable[0]) ? get_class($callable[0]) : (string)$callable[0];
			$name = $class . '::' . $callable[1];
			if (!method_exists($class, $callable[1])) {
				return array($name, null);
			}
			$reflection = new ReflectionMethod($class, $callable[1]);
			return array($name, array($reflection->getFileName(), $reflection->getStartLine()));
		}
	} catch (Throwable $e) {
		// a name that cannot be resolved is shown as not existing
	}
	return array(is_string($callable) ? $callable : 'a callable', null);
}

function mybb_mcp_forum_path($file)
{
	$root = realpath(MYBB_ROOT) . '/';
	return strpos((string)$file, $root) === 0 ? substr((string)$file, strlen($root)) : (string)$file;
}

/** check's front-end half, run with MyBB booted as a page (forum/php.py): the plugin's hooks there. */
function mybb_mcp_front_end_hooks($codename)
{
	global $cache, $plugins;  // what MyBB's own pluginSystem::load() gives a plugin file
	$before = mybb_mcp_hook_keys();
	try {
		require_once MYBB_ROOT . "inc/plugins/{$codename}.php";
	} catch (Throwable $e) {
		return array('hooks' => array(), 'error' => get_class($e) . ': ' . $e->getMessage());
	}
	return array('hooks' => mybb_mcp_registered_hooks($codename, $before));
}
