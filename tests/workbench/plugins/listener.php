<?php
/**
 * Uses the hook another plugin (Hooker) runs.
 */

if(!defined('IN_MYBB'))
{
	die('Direct initialization of this file is not allowed.');
}

$plugins->add_hook('hooker_ready', 'listener_ready');
$plugins->add_hook('hooker_index_done', 'listener_done');

function listener_info()
{
	return array(
		'name' => 'Listener',
		'description' => 'Listens to Hooker',
		'version' => '1.0',
		'author' => 'tests',
		'compatibility' => '18*',
	);
}

function listener_ready()
{
}

function listener_done()
{
}
