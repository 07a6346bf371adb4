<?php
/**
 * The Admin CP's plugins page, run for real: MyBB's own admin/index.php for module=config-plugins, as the
 * forum's admin, in a PHP CLI process (run by forum/php.py's run_php_script: argv[1] the forum root,
 * $_SERVER['argv'], stdin the JSON input, the answer after the result marker).
 *
 * What a click does, in order: the request's superglobals; IN_MYBB and IN_ADMINCP defined and
 * inc/init.php booted (admin/index.php's own require_once of it then does nothing); an admin session for
 * the forum's first Admin CP user (as admin/index.php's login makes one, authenticated) and the page's
 * my_post_key from MyBB's generate_post_check(); then admin/index.php runs to its end, exit or fatal
 * error. What this file adds only watches: MyBB's error handler subclassed to note each error with
 * file:line before MyBB handles it as usual; hooks on the plugins page's own hook points (which plugin
 * step is about to run, whether it committed, a confirmation page); the time limit; at shutdown the
 * flash message, the redirect, the page's output and the state after, and the admin session removed.
 *
 * $input: {mode: "request"|"list"|"check", name, step, query: {...}, form: {...}|null, admin: name|null,
 *          limit: seconds}
 */

$mybb_mcp_root = rtrim($_SERVER['argv'][1] ?? '', '/');
$mybb_mcp_input = json_decode((string)stream_get_contents(STDIN), true);
if (!is_array($mybb_mcp_input) || !is_dir($mybb_mcp_root . '/inc')) {
	fwrite(STDERR, "no input or no forum root\n");
	exit(3);
}
$mybb_mcp_out = array(
	'mode' => $mybb_mcp_input['mode'],
	'booted' => false,
	'admin' => null,
	'reached' => false,
	'committed' => false,
	'refused' => null,
	'confirm' => null,
	'flash' => null,
	'redirect' => null,
	'problems' => array(),
	'stopped_in' => null,
	'timed_out' => false,
	'result' => null,
);
$mybb_mcp_plugin = (string)($mybb_mcp_input['name'] ?? '');
$mybb_mcp_limit = max(1, (int)($mybb_mcp_input['limit'] ?? 30));

// The request, as a browser sends it to admin/index.php.
$_GET = is_array($mybb_mcp_input['query'] ?? null) ? $mybb_mcp_input['query'] : array();
$_POST = is_array($mybb_mcp_input['form'] ?? null) ? $mybb_mcp_input['form'] : array();
$_COOKIE = array();
$_REQUEST = array_merge($_GET, $_POST);
$mybb_mcp_query = http_build_query($_GET);
$_SERVER['REQUEST_METHOD'] = is_array($mybb_mcp_input['form'] ?? null) ? 'POST' : 'GET';
$_SERVER['QUERY_STRING'] = $mybb_mcp_query;
$_SERVER['REQUEST_URI'] = '/admin/index.php' . ($mybb_mcp_query !== '' ? '?' . $mybb_mcp_query : '');
$_SERVER['PHP_SELF'] = $_SERVER['SCRIPT_NAME'] = '/admin/index.php';
$_SERVER['SCRIPT_FILENAME'] = $mybb_mcp_root . '/admin/index.php';
$_SERVER['HTTP_HOST'] = $_SERVER['SERVER_NAME'] = '127.0.0.1';
$_SERVER['REMOTE_ADDR'] = '127.0.0.1';
$_SERVER['HTTP_USER_AGENT'] = 'mybb-mcp (the plugin workbench)';
@chdir($mybb_mcp_root . '/admin');

/** A path relative to the forum root. */
function mybb_mcp_relative($file)
{
	global $mybb_mcp_root;
	$file = (string)$file;
	return strpos($file, $mybb_mcp_root . '/') === 0 ? substr($file, strlen($mybb_mcp_root) + 1) : $file;
}

function mybb_mcp_text($value)
{
	return is_scalar($value) ? (string)$value : (string)json_encode($value, JSON_PARTIAL_OUTPUT_ON_ERROR);
}

/** The lifecycle function of the plugin that holds file:line, by the plugin's own definitions. */
function mybb_mcp_function_at($file, $line)
{
	global $mybb_mcp_plugin;
	foreach (array('install', 'activate', 'deactivate', 'uninstall', 'is_installed', 'info') as $part) {
		$function = "{$mybb_mcp_plugin}_{$part}";
		if ($mybb_mcp_plugin === '' || !function_exists($function)) {
			continue;
		}
		$reflection = new ReflectionFunction($function);
		if ($reflection->getFileName() === $file && $line >= $reflection->getStartLine()
			&& $line <= $reflection->getEndLine()) {
			return $function;
		}
	}
	return null;
}

/** Where a plugin is in a backtrace: the innermost frame in a plugin's file, and the lifecycle function the
 * Admin CP called (the outermost: one may call another). */
function mybb_mcp_plugin_frame(array $trace)
{
	global $mybb_mcp_root, $mybb_mcp_plugin;
	$found = null;
	$running = null;
	$lifecycle = '/^' . preg_quote($mybb_mcp_plugin, '/') . '_(install|activate|deactivate|uninstall|is_installed|info)$/';
	foreach ($trace as $frame) {
		$function = $frame['function'] ?? '';
		if ($mybb_mcp_plugin !== '' && !isset($frame['class']) && preg_match($lifecycle, $function)) {
			$running = $function;
		}
		if ($found === null && isset($frame['file']) && (strpos($frame['file'], $mybb_mcp_root . '/inc/plugins/') === 0)) {
			$found = array(mybb_mcp_relative($frame['file']), (int)$frame['line']);
		}
	}
	return array($found, $running);
}

function mybb_mcp_note($kind, $message, $file, $line, array $trace = array())
{
	global $mybb_mcp_out;
	list($at, $running) = mybb_mcp_plugin_frame($trace);
	$mybb_mcp_out['problems'][] = array(
		'kind' => (string)$kind,
		'message' => (string)$message,
		'file' => mybb_mcp_relative($file),
		'line' => (int)$line,
		'plugin_at' => $at ? $at[0] . ':' . $at[1] : null,
		'function' => $running ?: mybb_mcp_function_at($file, (int)$line),
		'stage' => $mybb_mcp_out['reached'] ? 'plugins page' : 'before the plugins page',
	);
}

/** Stopped at the time limit: name the plugin function that was running, then end as PHP would. */
function mybb_mcp_time_limit()
{
	global $mybb_mcp_out, $mybb_mcp_limit;
	$trace = debug_backtrace(DEBUG_BACKTRACE_IGNORE_ARGS);
	list($at, $running) = mybb_mcp_plugin_frame($trace);
	$mybb_mcp_out['timed_out'] = true;
	$mybb_mcp_out['stopped_in'] = array('function' => $running, 'at' => $at ? $at[0] . ':' . $at[1] : null,
		'limit' => $mybb_mcp_limit);
	exit(1);
}

if (function_exists('pcntl_async_signals') && function_exists('pcntl_signal') && function_exists('pcntl_alarm')) {
	pcntl_async_signals(true);
	pcntl_signal(SIGALRM, static function () {
		mybb_mcp_time_limit();
	});
	pcntl_alarm($mybb_mcp_limit);
}
if (function_exists('set_time_limit')) {
	set_time_limit($mybb_mcp_limit + 2);  // PHP's own limit (CPU time on Linux), behind the alarm
}

/** The answer, whatever ended the run: the end of the page, exit(), a fatal error or the time limit. */
function mybb_mcp_finish()
{
	global $mybb_mcp_out, $mybb_mcp_plugin, $db, $cache, $admin_session;
	if (function_exists('set_time_limit')) {
		set_time_limit(10);
	}
	$GLOBALS['mybb_mcp_finishing'] = true;
	$output = '';
	while (ob_get_level() > 0) {
		$output = ob_get_clean() . $output;
	}
	$mybb_mcp_out['output'] = $output;
	$last = error_get_last();
	if ($last && ($last['type'] & (E_ERROR | E_PARSE | E_CORE_ERROR | E_COMPILE_ERROR | E_USER_ERROR))) {
		if (strpos($last['message'], 'Maximum execution time') === 0 && !$mybb_mcp_out['timed_out']) {
			$mybb_mcp_out['timed_out'] = true;
		}
		// An uncaught exception: its class and message, where it was thrown (PHP's own words otherwise).
		if (preg_match('/^Uncaught ([A-Za-z0-9_\\\\]+): (.*) in \S+:\d+\s*\nStack trace/s', $last['message'], $match)) {
			mybb_mcp_note($match[1], $match[2], $last['file'], $last['line']);
		} else {
			mybb_mcp_note('fatal', $last['message'], $last['file'], $last['line']);
		}
	}
	if (function_exists('xdebug_get_headers')) {
		foreach (xdebug_get_headers() as $header) {
			if (stripos($header, 'Location:') === 0) {
				$mybb_mcp_out['redirect'] = trim(substr($header, 9));
			}
		}
	}
	$mybb_mcp_out['redirect_known'] = function_exists('xdebug_get_headers');
	if (!empty($mybb_mcp_out['monitored'])) {
		$mybb_mcp_out['called'] = array();
		foreach (xdebug_get_monitored_functions() as $call) {
			$mybb_mcp_out['called'][] = substr((string)$call['function'], strlen($mybb_mcp_plugin) + 1);
		}
		unset($mybb_mcp_out['monitored']);
	}
	if (is_array($admin_session) && isset($admin_session['data']['flash_message'])) {
		$mybb_mcp_out['flash'] = $admin_session['data']['flash_message'];
	}
	if ($mybb_mcp_out['booted'] && is_object($db)) {
		try {
			$plugins_cache = $cache->read('plugins', true);
			$active = is_array($plugins_cache) && isset($plugins_cache['active']) && is_array($plugins_cache['active'])
				? $plugins_cache['active'] : array();
			$mybb_mcp_out['active_after'] = array_values(array_map('strval', $active));
			$function = "{$mybb_mcp_plugin}_is_installed";
			$mybb_mcp_out['installed_after'] = $mybb_mcp_plugin !== '' && function_exists($function)
				? (bool)$function() : null;
		} catch (Throwable $e) {
			$mybb_mcp_out['installed_after'] = null;
		}
		// The admin's logout removes its session the same way (admin/index.php, action=logout).
		if (!empty($mybb_mcp_out['session'])) {
			try {
				$db->delete_query('adminsessions', "sid='" . $db->escape_string($mybb_mcp_out['session']) . "'");
			} catch (Throwable $e) {
				// a session row left behind expires after two hours, as the Admin CP's own
			}
		}
	}
	unset($mybb_mcp_out['session']);
	echo "\n--mybb-mcp-result--\n", json_encode($mybb_mcp_out, JSON_PARTIAL_OUTPUT_ON_ERROR | JSON_INVALID_UTF8_SUBSTITUTE);
}

register_shutdown_function('mybb_mcp_finish');
ob_start();

define('IN_MYBB', 1);
define('IN_ADMINCP', 1);
define('ADMIN_IP_SEGMENTS', 0);
define('ADMIN_IPV6_SEGMENTS', 0);
require_once $mybb_mcp_root . '/inc/init.php';
$mybb_mcp_out['booted'] = true;

if (!class_exists('MybbMcpAdminErrors', false)) {
	/** MyBB's own error handler, noting each error (file:line, the plugin's place) before handling it as usual. */
	class MybbMcpAdminErrors extends errorHandler
	{
		public function error($type, $message, $file = null, $line = 0, $allow_output = true)
		{
			// admin/index.php defines what this file defined before booting MyBB as it does.
			if (is_string($message) && preg_match('/^Constant (IN_MYBB|IN_ADMINCP|ADMIN_IPV?6?_SEGMENTS) already defined$/', $message)) {
				return true;
			}
			if (!empty($GLOBALS['mybb_mcp_finishing'])) {
				// Reading the state after the run: an error here ends that reading, not the answer.
				throw new RuntimeException(mybb_mcp_text(is_array($message) ? ($message['error'] ?? '') : $message));
			}
			if ((error_reporting() & $type) || $type == MYBB_SQL) {
				$kind = $type == MYBB_SQL ? 'SQL error' : ($this->error_types[$type] ?? 'error');
				$text = is_array($message)
					? mybb_mcp_text($message['error_no'] ?? '?') . ': ' . mybb_mcp_text($message['error'] ?? '')
						. ' — query: ' . mybb_mcp_text($message['query'] ?? '')
					: mybb_mcp_text($message);
				mybb_mcp_note($kind, $text, (string)$file, (int)$line, debug_backtrace(DEBUG_BACKTRACE_IGNORE_ARGS));
			}
			return parent::error($type, $message, $file, $line, $allow_output);
		}
	}
}
$error_handler = new MybbMcpAdminErrors();

/** The forum's admin: the configured name if it may use the Admin CP, else the first user who may. */
function mybb_mcp_admin_user($name)
{
	global $db;
	$groups = array();
	$query = $db->simple_select('usergroups', 'gid', 'cancp=1');
	while ($group = $db->fetch_array($query)) {
		$groups[] = (int)$group['gid'];
	}
	if (!$groups) {
		return null;
	}
	$where = 'usergroup IN (' . implode(',', $groups) . ')';
	if (is_string($name) && $name !== '') {
		$where .= " AND username='" . $db->escape_string($name) . "'";
	}
	$query = $db->simple_select('users', 'uid', $where, array('order_by' => 'uid', 'limit' => 1));
	$uid = $db->fetch_field($query, 'uid');
	return $uid ? get_user($uid) : null;
}

$mybb_mcp_user = mybb_mcp_admin_user($mybb_mcp_input['admin'] ?? null);
if (!$mybb_mcp_user) {
	$mybb_mcp_out['refused'] = 'no admin';
	exit(0);
}
$mybb_mcp_out['admin'] = $mybb_mcp_user['username'];
// The session admin/index.php's login creates, already past two-factor authentication.
$mybb_mcp_out['session'] = preg_match('/^[0-9a-f]{32}$/', (string)($mybb_mcp_input['session'] ?? ''))
	? $mybb_mcp_input['session'] : md5(random_str(50));  // the caller's, to remove it if this process is killed
$db->insert_query('adminsessions', array(
	'sid' => $mybb_mcp_out['session'],
	'uid' => (int)$mybb_mcp_user['uid'],
	'loginkey' => $db->escape_string($mybb_mcp_user['loginkey']),
	'ip' => $db->escape_binary(my_inet_pton(get_ip())),
	'dateline' => TIME_NOW,
	'lastactive' => TIME_NOW,
	'data' => my_serialize(array()),
	'useragent' => $db->escape_string($_SERVER['HTTP_USER_AGENT']),
	'authenticated' => 1,
));
$mybb->cookies['adminsid'] = $_COOKIE['adminsid'] = $mybb_mcp_out['session'];
// The my_post_key the plugins page puts in its links: generate_post_check() as that admin in the Admin CP.
$mybb_mcp_saved_user = $mybb->user ?? null;
$mybb->user = $mybb_mcp_user;
$mybb_mcp_post_key = generate_post_check();
$mybb->user = $mybb_mcp_saved_user;
if (array_key_exists('my_post_key', $_GET) || array_key_exists('my_post_key', $_POST)) {
	$mybb->input['my_post_key'] = $mybb_mcp_post_key;
}

/** The plugin's step is next (admin_config_plugins_activate/_deactivate): what will run, or a refusal. */
function mybb_mcp_before_step()
{
	global $mybb, $plugins, $mybb_mcp_out, $mybb_mcp_plugin, $mybb_mcp_input;
	$mybb_mcp_out['reached'] = true;
	$mybb_mcp_out['active_before'] = mybb_mcp_active();
	$codename = $mybb_mcp_plugin;
	try {
		require_once MYBB_ROOT . "inc/plugins/{$codename}.php";
		$function = "{$codename}_is_installed";
		$installed = function_exists($function) ? (bool)$function() : null;
	} catch (Throwable $e) {
		mybb_mcp_note(get_class($e), $e->getMessage(), $e->getFile(), $e->getLine(), $e->getTrace());
		$mybb_mcp_out['refused'] = 'cannot be loaded';
		exit(0);
	}
	$mybb_mcp_out['installed_before'] = $installed;
	$step = (string)($mybb_mcp_input['step'] ?? '');
	$has = static function ($part) use ($codename) {
		return function_exists("{$codename}_{$part}");
	};
	$refused = null;
	if ($step === 'install' && $installed === true && $has('install')) {
		$refused = 'already installed';
	} elseif ($step === 'uninstall' && !$has('uninstall')) {
		$refused = 'no _uninstall function';
	} elseif ($step === 'uninstall' && $installed === false) {
		$refused = 'not installed';
	} elseif (($step === 'install' || $step === 'activate') && $plugins->is_compatible($codename) == false) {
		$refused = "not compatible with MyBB {$mybb->version}";
	}
	if ($refused !== null) {
		$mybb_mcp_out['refused'] = $refused;
		exit(0);
	}
	$runs = array();
	if ($step === 'install' || $step === 'activate') {
		if ($installed === false && $has('install')) {
			$runs[] = 'install';
		}
		if ($has('activate')) {
			$runs[] = 'activate';
		}
	} else {
		if ($has('deactivate')) {
			$runs[] = 'deactivate';
		}
		if ($mybb->get_input('uninstall') == 1 && $has('uninstall')) {
			$runs[] = 'uninstall';
		}
	}
	$mybb_mcp_out['runs'] = $runs;
	// Which of them were called, even when one ends the page with exit: Xdebug's function monitor.
	if (function_exists('xdebug_start_function_monitor')
		&& in_array('develop', array_map('trim', explode(',', (string)ini_get('xdebug.mode'))), true)) {
		xdebug_start_function_monitor(array_map(static function ($part) use ($codename) {
			return "{$codename}_{$part}";
		}, $runs));
		$mybb_mcp_out['monitored'] = true;
	}
}

function mybb_mcp_active()
{
	global $cache;
	$plugins_cache = $cache->read('plugins');
	$active = is_array($plugins_cache) && isset($plugins_cache['active']) && is_array($plugins_cache['active'])
		? $plugins_cache['active'] : array();
	return array_values(array_map('strval', $active));
}

function mybb_mcp_committed()
{
	$GLOBALS['mybb_mcp_out']['committed'] = true;
}

/** A confirmation page (a plugin's own question, or MyBB's): what it asks, and where "Yes" posts. */
function mybb_mcp_confirm(&$args)
{
	$GLOBALS['mybb_mcp_out']['confirm'] = array('url' => (string)$args['url'], 'message' => (string)$args['message'],
		'title' => (string)$args['title']);
}

/** list and check: the plugins page's view of the plugin files, in the Admin CP (admin_config_plugins_begin). */
function mybb_mcp_describe_here()
{
	global $mybb_mcp_out, $mybb_mcp_input;
	require_once dirname(__FILE__) . '/plugins_list.php';
	$mybb_mcp_out['reached'] = true;
	$mybb_mcp_out['result'] = mybb_mcp_describe_answer($mybb_mcp_input);
	exit(0);
}

if ($mybb_mcp_input['mode'] !== 'request') {
	$plugins->add_hook('admin_config_plugins_begin', 'mybb_mcp_describe_here');
} else {
	$plugins->add_hook('admin_config_plugins_activate', 'mybb_mcp_before_step');
	$plugins->add_hook('admin_config_plugins_deactivate', 'mybb_mcp_before_step');
	$plugins->add_hook('admin_config_plugins_activate_commit', 'mybb_mcp_committed');
	$plugins->add_hook('admin_config_plugins_deactivate_commit', 'mybb_mcp_committed');
}
$plugins->add_hook('admin_page_output_confirm_action', 'mybb_mcp_confirm');

$mybb_mcp_admin_dir = !empty($config['admin_dir']) && is_file(MYBB_ROOT . $config['admin_dir'] . '/index.php')
	? $config['admin_dir'] : 'admin';
@chdir(MYBB_ROOT . $mybb_mcp_admin_dir);
require MYBB_ROOT . $mybb_mcp_admin_dir . '/index.php';
