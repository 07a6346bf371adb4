<?php
/**
 * What one request of mybb_server_request costs, and what it printed (see request.php, which loads this file
 * for every request the workbench secret switched on).
 *
 * - Output, always: an output buffer of chunk size 1 sees every write PHP makes (an echo, a print, a warning PHP
 *   displays) at the moment it is made, so debug_backtrace() names the line that printed it. The first writes and
 *   the last ones are kept (offset, length, file:line, first bytes): what broke an AJAX answer that should be JSON.
 * - Queries and profile, only when asked: MyBB's own `$db` object of this request is swapped, before it connects,
 *   for its own class extended by a trait that times each query() with PHP's hrtime() (statement, rows, the caller
 *   outside MyBB's database layer, the hook running, the plugin whose file is on the stack); the hooks are run by
 *   MyBB's loop with a timer around each plugin function (exclusive of the hooks it runs itself).
 */

const MYBB_MCP_MAX_QUERIES = 2000;
const MYBB_MCP_MAX_SQL_CHARS = 1500;
const MYBB_MCP_OUTPUT_FIRST = 12;
const MYBB_MCP_OUTPUT_LAST = 4;
const MYBB_MCP_OUTPUT_HEAD = 200;

/** Called by PHP for each write (chunk size 1); returns the bytes unchanged. */
function mybb_mcp_output_seen($buffer, $phase)
{
	$seen = &$GLOBALS['mybb_mcp_output'];
	$length = strlen($buffer);
	if ($length === 0 || $seen === null) {
		return $buffer;
	}
	$seen['count']++;
	// The line executing when PHP wrote: the echo, or the line whose warning PHP displayed.
	$frame = debug_backtrace(DEBUG_BACKTRACE_IGNORE_ARGS, 1)[0] ?? array();
	$entry = array($seen['bytes'], $length, mybb_mcp_costs_relative($frame['file'] ?? ''), (int)($frame['line'] ?? 0),
		substr($buffer, 0, MYBB_MCP_OUTPUT_HEAD), $length > MYBB_MCP_OUTPUT_HEAD ? substr($buffer, -80) : '');
	if ($seen['count'] <= MYBB_MCP_OUTPUT_FIRST) {
		$seen['first'][] = $entry;
	} else {
		$seen['last'][] = $entry;
		if (count($seen['last']) > MYBB_MCP_OUTPUT_LAST) {
			array_shift($seen['last']);
		}
	}
	$seen['bytes'] += $length;
	return $buffer;
}

function mybb_mcp_output_begin()
{
	$GLOBALS['mybb_mcp_output'] = array('count' => 0, 'bytes' => 0, 'first' => array(), 'last' => array());
	ob_start('mybb_mcp_output_seen', 1);
}

/** MyBB's root-relative path of a file (as its own error pages show them). */
function mybb_mcp_costs_relative($file)
{
	$file = (string)$file;
	return defined('MYBB_ROOT') && strpos($file, MYBB_ROOT) === 0 ? substr($file, strlen(MYBB_ROOT)) : $file;
}

// --- queries ----------------------------------------------------------------------------------------------

trait MybbMcpQueries
{
	public function query($string, $hide_errors = 0, $write_query = 0)
	{
		$began = hrtime(true);
		$result = parent::query($string, $hide_errors, $write_query);
		mybb_mcp_costs_query($this, (string)$string, hrtime(true) - $began, $result);
		return $result;
	}

	public function fetch_array($query, ...$rest)
	{
		$row = parent::fetch_array($query, ...$rest);
		if ($row && $query instanceof PDOStatement) {
			mybb_mcp_costs_row_read($query);
		}
		return $row;
	}
}

/** The class to swap MyBB's database object for, or null for a driver this file does not extend. */
function mybb_mcp_costs_db_class($db)
{
	$classes = array(
		'DB_SQLite' => 'MybbMcpDbSqlite', 'DB_MySQLi' => 'MybbMcpDbMysqli', 'DB_MySQL' => 'MybbMcpDbMysql',
		'DB_PgSQL' => 'MybbMcpDbPgsql', 'MysqlPdoDbDriver' => 'MybbMcpDbMysqlPdo',
		'PostgresPdoDbDriver' => 'MybbMcpDbPgsqlPdo',
	);
	$class = $classes[get_class($db)] ?? null;
	if ($class === null) {
		return null;
	}
	require_once __DIR__ . '/request_costs_db.php';
	return class_exists($class, false) ? $class : null;
}

function mybb_mcp_costs_query($db, $sql, $nanoseconds, $result)
{
	$costs = &$GLOBALS['mybb_mcp_costs'];
	$costs['count']++;
	$costs['ns'] += $nanoseconds;
	$function = $costs['function'];
	if ($function !== null) {
		$costs['functions'][$function][3]++;
	}
	if (!$costs['queries']) {
		return;
	}
	if ($costs['count'] > MYBB_MCP_MAX_QUERIES) {
		$costs['unlisted']++;
		$costs['unlisted_ns'] += $nanoseconds;
		return;
	}
	$rows = null;
	$kind = 'affected';
	try {
		if ($result instanceof mysqli_result) {
			$rows = $result->num_rows;
			$kind = 'result';
		} elseif ($result instanceof PDOStatement) {
			if ($result->columnCount() > 0) {
				$rows = 0;
				$kind = 'read';  // SQLite does not know a result's size before it is read: rows read by MyBB
				$costs['statements'][spl_object_id($result)] = count($costs['list']);
			} else {
				$rows = $result->rowCount();
			}
		} elseif ($result === true && method_exists($db, 'affected_rows')) {
			$rows = (int)$db->affected_rows();
		}
	} catch (Throwable $e) {
		$rows = null;
	}
	list($caller, $plugin, $plugin_at) = mybb_mcp_costs_caller();
	$costs['list'][] = array(substr($sql, 0, MYBB_MCP_MAX_SQL_CHARS), strlen($sql), round($nanoseconds / 1e6, 3), $rows,
		$kind, $caller, $plugin, $plugin_at, $costs['hook']);
}

function mybb_mcp_costs_row_read($statement)
{
	$costs = &$GLOBALS['mybb_mcp_costs'];
	$at = $costs['statements'][spl_object_id($statement)] ?? null;
	if ($at !== null && isset($costs['list'][$at])) {
		$costs['list'][$at][3]++;
	}
}

/** The first frame outside MyBB's database layer (file:line), and the plugin whose file is on the stack. */
function mybb_mcp_costs_caller()
{
	static $layer = array();
	$caller = null;
	$plugin = null;
	$plugin_at = null;
	$plugins_dir = MYBB_ROOT . 'inc/plugins/';
	foreach (debug_backtrace(DEBUG_BACKTRACE_IGNORE_ARGS) as $frame) {
		$file = $frame['file'] ?? '';
		if ($file === '') {
			continue;
		}
		if (!isset($layer[$file])) {
			$base = basename($file);
			$layer[$file] = $file === __FILE__ || $file === __DIR__ . '/request_costs_db.php'
				|| (dirname($file) . '/' === MYBB_ROOT . 'inc/'
					&& ($base === 'AbstractPdoDbDriver.php' || preg_match('/^db_[a-z_]+\.php$/', $base)));
		}
		if ($layer[$file]) {
			continue;
		}
		if ($caller === null) {
			$caller = mybb_mcp_costs_relative($file) . ':' . (int)($frame['line'] ?? 0);
		}
		if (strpos($file, $plugins_dir) === 0) {
			$plugin = strtok(substr($file, strlen($plugins_dir)), '/.');
			$plugin_at = mybb_mcp_costs_relative($file) . ':' . (int)($frame['line'] ?? 0);
			break;
		}
	}
	return array($caller, $plugin, $plugin_at);
}

// --- hooks ------------------------------------------------------------------------------------------------

/** MyBB's pluginSystem::run_hooks(), the same loop, with each plugin function timed (exclusive of the hooks it
 * runs itself) and the hook it runs in known to the queries it makes. */
function mybb_mcp_costs_run_hooks($system, $hook, &$arguments)
{
	if (!isset($system->hooks[$hook]) || !is_array($system->hooks[$hook])) {
		return $arguments;
	}
	$costs = &$GLOBALS['mybb_mcp_costs'];
	$outer_hook = $costs['hook'];
	$costs['hook'] = (string)$hook;
	$system->current_hook = $hook;
	ksort($system->hooks[$hook]);
	foreach ($system->hooks[$hook] as $priority => $hooks) {
		if (!is_array($hooks)) {
			continue;
		}
		foreach ($hooks as $key => $entry) {
			if ($entry['file']) {
				require_once $entry['file'];
			}
			$name = mybb_mcp_function_name($entry);
			$key = $hook . "\n" . $name;
			if (!isset($costs['functions'][$key])) {
				$costs['functions'][$key] = array((string)$hook, $name, 0, 0, 0);  // hook, function, calls, queries, ns
			}
			$costs['functions'][$key][2]++;
			$costs['stack'][] = array($key, hrtime(true), 0);
			$costs['function'] = $key;
			try {
				if (array_key_exists('class_method', $entry)) {
					$return_args = call_user_func_array($entry['class_method'], array(&$arguments));
				} else {
					$func = $entry['function'];
					$return_args = $func($arguments);
				}
			} finally {
				mybb_mcp_costs_function_done(hrtime(true));
			}
			if ($return_args) {
				$arguments = $return_args;
			}
		}
	}
	$system->current_hook = '';
	$costs['hook'] = $outer_hook;
	return $arguments;
}

/** The innermost running plugin function has returned (or the request ends inside it: an exit in a handler). */
function mybb_mcp_costs_function_done($now)
{
	$costs = &$GLOBALS['mybb_mcp_costs'];
	list($key, $began, $child_ns) = array_pop($costs['stack']);
	$spent = $now - $began;
	$costs['functions'][$key][4] += $spent - $child_ns;
	$at = count($costs['stack']) - 1;
	if ($at >= 0) {
		$costs['stack'][$at][2] += $spent;
	}
	$costs['function'] = $at >= 0 ? $costs['stack'][$at][0] : null;
}

function mybb_mcp_costs_begin(array $options)
{
	$GLOBALS['mybb_mcp_costs'] = array(
		'queries' => !empty($options['queries']), 'profile' => !empty($options['profile']),
		'began' => hrtime(true), 'count' => 0, 'ns' => 0, 'list' => array(), 'statements' => array(),
		'unlisted' => 0, 'unlisted_ns' => 0, 'hook' => null, 'function' => null, 'stack' => array(),
		'functions' => array(), 'db_class' => null,
	);
}

/** The script has ended (shutdown begins): a plugin function still running exited the request there. */
function mybb_mcp_costs_exit_mark()
{
	if (isset($GLOBALS['mybb_mcp_costs']) && !isset($GLOBALS['mybb_mcp_costs']['exit_at'])) {
		$GLOBALS['mybb_mcp_costs']['exit_at'] = hrtime(true);
	}
}

/** What the request cost, taken at its very end (after MyBB's shutdown queries), before the workbench's own. */
function mybb_mcp_costs_end()
{
	$costs = $GLOBALS['mybb_mcp_costs'] ?? null;
	$output = $GLOBALS['mybb_mcp_output'] ?? null;
	$GLOBALS['mybb_mcp_output'] = null;
	$answer = array('output' => $output);
	if ($costs === null) {
		return $answer;
	}
	global $db;
	$now = hrtime(true);
	$exited_in = array();
	while (!empty($GLOBALS['mybb_mcp_costs']['stack'])) {
		$exited_in[] = end($GLOBALS['mybb_mcp_costs']['stack'])[0];
		mybb_mcp_costs_function_done($GLOBALS['mybb_mcp_costs']['exit_at'] ?? $now);
	}
	$costs = $GLOBALS['mybb_mcp_costs'];
	$functions = array();
	foreach ($costs['functions'] as $row) {
		$functions[] = array($row[0], $row[1], $row[2], $row[3], round($row[4] / 1e6, 3),
			in_array($row[0] . "\n" . $row[1], $exited_in, true));
	}
	$answer['costs'] = array(
		'queries_asked' => $costs['queries'], 'profile_asked' => $costs['profile'],
		'wrapped' => $costs['db_class'], 'wall_ms' => round(($now - $costs['began']) / 1e6, 3),
		'count' => $costs['count'], 'ms' => round($costs['ns'] / 1e6, 3),
		'mybb_count' => isset($db) && is_object($db) && isset($db->query_count) ? (int)$db->query_count : null,
		'list' => $costs['queries'] ? $costs['list'] : array(),
		'unlisted' => $costs['unlisted'], 'unlisted_ms' => round($costs['unlisted_ns'] / 1e6, 3),
		'functions' => $costs['profile'] ? $functions : array(),
	);
	return $answer;
}
