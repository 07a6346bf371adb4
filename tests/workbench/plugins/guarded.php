<?php
/**
 * Lifecycle functions only in the Admin CP, as many plugins define them; a task the plugin switches.
 */

if(!defined('IN_MYBB'))
{
	die('Direct initialization of this file is not allowed.');
}

if(defined('IN_ADMINCP'))
{
	function guarded_info()
	{
		return array(
			'name' => 'Guarded',
			'description' => 'Lifecycle defined for the Admin CP only',
			'version' => '1.0',
			'author' => 'tests',
			'compatibility' => '18*',
		);
	}

	function guarded_install()
	{
		global $db;
		require_once MYBB_ROOT.'inc/functions_task.php';
		$task = array(
			'title' => 'Guarded cleanup',
			'description' => 'Cleans what Guarded keeps',
			'file' => 'guarded',
			'minute' => '0',
			'hour' => '*',
			'day' => '*',
			'month' => '*',
			'weekday' => '*',
			'enabled' => 0,
			'logging' => 1,
			'locked' => 0,
		);
		$task['nextrun'] = fetch_next_run($task);
		$db->insert_query('tasks', $task);
	}

	function guarded_is_installed()
	{
		global $db;
		$query = $db->simple_select('tasks', 'tid', "file='guarded'");
		return (bool)$db->fetch_field($query, 'tid');
	}

	function guarded_uninstall()
	{
		global $db, $cache;
		$db->delete_query('tasks', "file='guarded'");
		$cache->update_tasks();
	}

	function guarded_activate()
	{
		global $db, $cache;
		$db->update_query('tasks', array('enabled' => 1), "file='guarded'");
		$cache->update_tasks();
	}

	function guarded_deactivate()
	{
		global $db, $cache;
		$db->update_query('tasks', array('enabled' => 0), "file='guarded'");
		$cache->update_tasks();
	}
}
