<?php
/**
 * An _install that uses what only the Admin CP has, and ends the page itself.
 */

if(!defined('IN_MYBB'))
{
	die('Direct initialization of this file is not allowed.');
}

function ender_info()
{
	return array(
		'name' => 'Ender',
		'description' => 'Installs with the Admin CP\'s tools',
		'version' => '2.0',
		'author' => 'tests',
		'compatibility' => '18*',
	);
}

function ender_install()
{
	global $db, $lang;
	require_once MYBB_ADMIN_DIR.'inc/functions_themes.php';
	$db->write_query('CREATE TABLE '.TABLE_PREFIX.'ender_items (iid INTEGER PRIMARY KEY, name VARCHAR(50) NOT NULL)');
	$gid = $db->insert_query('settinggroups', array(
		'name' => 'ender',
		'title' => 'Ender',
		'description' => $db->escape_string($lang->plugins),
		'disporder' => 50,
		'isdefault' => 0,
	));
	$db->insert_query('settings', array(
		'name' => 'ender_enabled',
		'title' => 'Ender on',
		'description' => '',
		'optionscode' => 'yesno',
		'value' => '1',
		'disporder' => 1,
		'gid' => (int)$gid,
	));
	rebuild_settings();
	$db->insert_query('templates', array(
		'title' => 'ender_box',
		'template' => $db->escape_string('<div class="ender">{$ender}</div>'),
		'sid' => -2,
		'version' => '1800',
		'dateline' => TIME_NOW,
	));
	flash_message('Ender is installed: now activate it.', 'success');
	admin_redirect('index.php?module=config-settings&action=change&gid='.(int)$gid);
}

function ender_is_installed()
{
	global $db;
	return $db->table_exists('ender_items');
}

function ender_uninstall()
{
	global $db, $cache;
	$db->drop_table('ender_items');
	$db->delete_query('settings', "name='ender_enabled'");
	$db->delete_query('settinggroups', "name='ender'");
	$db->delete_query('templates', "title='ender_box'");
	rebuild_settings();
	$db->update_query('usergroups', array('canviewprofiles' => 1), "gid='1'");
	$cache->update_usergroups();
}

function ender_activate()
{
	global $db, $cache;
	$db->update_query('settings', array('value' => '1'), "name='ender_enabled'");
	rebuild_settings();
	// Guests may no longer see profiles while Ender runs.
	$db->update_query('usergroups', array('canviewprofiles' => 0), "gid='1'");
	$cache->update_usergroups();
}
