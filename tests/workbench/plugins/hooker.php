<?php
/**
 * Hooks registered in a loop from namespaced function names, and a hook of its own.
 */

namespace Hooker
{
	function hook_index_start()
	{
		global $plugins;
		$plugins->run_hooks('hooker_ready');
		$stage = 'index';
		$plugins->run_hooks("hooker_{$stage}_done");
	}

	function hook_postbitt(&$post)
	{
	}

	function hook_global_end()
	{
	}
}

namespace
{
	if(!defined('IN_MYBB'))
	{
		die('Direct initialization of this file is not allowed.');
	}

	function hooker_info()
	{
		return array(
			'name' => 'Hooker',
			'description' => 'Hooks from function names',
			'version' => '3.0',
			'author' => 'tests',
			'compatibility' => '18*',
		);
	}

	foreach(get_defined_functions()['user'] as $function)
	{
		if(strpos($function, 'hooker\\hook_') === 0)
		{
			$plugins->add_hook(substr($function, strlen('hooker\\hook_')), $function);
		}
	}
}
