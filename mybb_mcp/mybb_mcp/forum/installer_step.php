<?php
/**
 * One page of MyBB's installer (install/index.php), run in the PHP CLI with its form fields given
 * directly: the fields (the database and admin passwords among them) arrive on stdin, never over a
 * socket another local user could have taken. The page MyBB prints goes to stdout.
 *
 * Usage: php installer_step.php FORUM_ROOT < urlencoded-fields
 */

if(PHP_SAPI !== 'cli' || !isset($argv[1]))
{
	fwrite(STDERR, "usage: php installer_step.php FORUM_ROOT < fields\n");
	exit(2);
}

$mybb_mcp_install = rtrim($argv[1], '/').'/install';
if(!is_file($mybb_mcp_install.'/index.php') || !@chdir($mybb_mcp_install))
{
	fwrite(STDERR, "no MyBB installer at {$mybb_mcp_install}\n");
	exit(3);
}

// The request a browser would make: a POST of these fields, parsed as PHP parses a form.
$_GET = array();
$_COOKIE = array();
$_POST = array();
parse_str((string)stream_get_contents(STDIN), $_POST);
$_REQUEST = $_POST;
$_SERVER['REQUEST_METHOD'] = 'POST';
$_SERVER['REQUEST_URI'] = '/install/index.php';
$_SERVER['SCRIPT_NAME'] = $_SERVER['PHP_SELF'] = '/install/index.php';
$_SERVER['HTTP_HOST'] = '127.0.0.1';
$_SERVER['REMOTE_ADDR'] = '127.0.0.1';
unset($mybb_mcp_install);

// At the top level, as in a page: the installer's functions reach its variables as globals.
require './index.php';
