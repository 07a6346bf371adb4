<?php
/**
 * Columns in MyBB's own tables, and an uninstall that asks first.
 */

if(!defined('IN_MYBB'))
{
	die('Direct initialization of this file is not allowed.');
}

function asker_info()
{
	return array(
		'name' => 'Asker',
		'description' => 'Asks before it removes its data',
		'version' => '1.1',
		'author' => 'tests',
		'compatibility' => '18*',
	);
}

function asker_install()
{
	global $db;
	$db->add_column('users', 'asker_points', "int NOT NULL default '0'");
	$db->add_column('posts', 'asker_votes', "int NOT NULL default '0'");
}

function asker_is_installed()
{
	global $db;
	return $db->field_exists('asker_points', 'users');
}

function asker_uninstall()
{
	global $db, $mybb, $page;
	if($mybb->request_method != 'post')
	{
		$page->output_confirm_action('index.php?module=config-plugins&action=deactivate&uninstall=1&plugin=asker', 'Remove every point and vote Asker keeps?', 'Uninstall Asker');
	}
	if(!isset($mybb->input['no']))
	{
		$db->drop_column('users', 'asker_points');
		$db->drop_column('posts', 'asker_votes');
	}
}
