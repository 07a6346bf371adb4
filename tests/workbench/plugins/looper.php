<?php
/**
 * An _install that never ends.
 */

if(!defined('IN_MYBB'))
{
	die('Direct initialization of this file is not allowed.');
}

function looper_info()
{
	return array(
		'name' => 'Looper',
		'description' => 'Never finishes installing',
		'version' => '0.1',
		'author' => 'tests',
		'compatibility' => '18*',
	);
}

function looper_install()
{
	$turns = 0;
	while(true)
	{
		++$turns;
	}
}

function looper_is_installed()
{
	return false;
}
