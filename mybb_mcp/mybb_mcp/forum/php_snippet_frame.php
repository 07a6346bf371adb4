<?php
/**
 * The frame of a snippet run with MyBB booted (forum/php.py, run_mybb_php): what stands between the
 * two marker lines boots MyBB, what follows the second prints the snippet's $result. The snippet goes
 * between them, each line kept where it is (an error in a snippet is reported by its line).
 *
 * It enters the forum root first: MyBB's relative paths (cache/, uploads/, inc/settings.php) are
 * relative to it. inc/init.php reads a few web-only $_SERVER entries; CLI values for them keep its log
 * free of notices. The caller's data arrives on stdin as JSON: no value is ever pasted into PHP source.
 */
// --mybb-mcp-prologue--

$__mybb_mcp_root = $argv[1];
if (!@chdir($__mybb_mcp_root)) { fwrite(STDERR, "cannot enter the forum root\n"); exit(3); }
$_SERVER['REQUEST_URI'] = $_SERVER['REQUEST_URI'] ?? '/';
$_SERVER['HTTP_HOST'] = $_SERVER['HTTP_HOST'] ?? '127.0.0.1';
$_SERVER['REMOTE_ADDR'] = $_SERVER['REMOTE_ADDR'] ?? '127.0.0.1';
$_SERVER['REQUEST_METHOD'] = 'GET';
$input = json_decode(stream_get_contents(STDIN), true);
$result = null;
define('IN_MYBB', 1);
define('THIS_SCRIPT', 'mybb-mcp.php');
define('NO_ONLINE', 1);
require_once $__mybb_mcp_root . '/inc/init.php';
// --mybb-mcp-snippet--

echo "\n--mybb-mcp-result--\n", json_encode($result, JSON_PARTIAL_OUTPUT_ON_ERROR | JSON_INVALID_UTF8_SUBSTITUTE);
