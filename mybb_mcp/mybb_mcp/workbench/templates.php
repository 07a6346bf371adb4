<?php
/**
 * The templates workbench's PHP, run by forum/php.py's run_mybb_php (MyBB booted, `$input` given,
 * `$result` answered). $input: {action: read|check|apply, title, find?, replace?, sid?}.
 *
 * check and apply ask MyBB's own check_template() (admin/inc/functions.php) about every template
 * find_replace_templatesets() would write, as the Admin CP's template editor and its search/replace
 * (admin/modules/style/templates.php) do: a template it refuses ("{${system('id')}}", a method call,
 * $config[...]) is never written. apply checks and writes in one run, and writes nothing when any copy
 * is refused.
 *
 * Everything lives in functions: a top-level `return` would skip run_mybb_php's epilogue.
 */

function mybb_mcp_template_read($title)
{
	global $db;

	$names = array(-2 => 'master', -1 => 'global');
	$query = $db->simple_select('templatesets', 'sid, title');
	while($set = $db->fetch_array($query))
	{
		$names[(int)$set['sid']] = $set['title'];
	}

	$copies = array();
	$query = $db->simple_select('templates', 'sid, template, version', "title = '".$db->escape_string($title)."'", array('order_by' => 'sid'));
	while($template = $db->fetch_array($query))
	{
		$sid = (int)$template['sid'];
		$copies[] = array('sid' => $sid, 'set' => $names[$sid] ?? ('set '.$sid), 'template' => $template['template'], 'version' => (string)$template['version']);
	}

	$sets = array();
	foreach($names as $sid => $name)
	{
		if($sid > 0)
		{
			$sets[] = array('sid' => $sid, 'set' => $name);
		}
	}

	$similar = array();
	if(!$copies)
	{
		$word = $db->escape_string(substr($title, 0, 40));
		$query = $db->simple_select('templates', 'DISTINCT title', "sid = -2 AND title LIKE '%{$word}%'", array('order_by' => 'title', 'limit' => 15));
		while($template = $db->fetch_array($query))
		{
			$similar[] = $template['title'];
		}
	}

	return array('copies' => $copies, 'sets' => $sets, 'similar' => $similar);
}

/**
 * The templates find_replace_templatesets() would write, with their new text: the same selection
 * (the sets' own copies, global included when no set is given; the master for the sets inheriting it).
 */
function mybb_mcp_template_writes($title, $pattern, $replacement, $sid)
{
	global $db;

	$where = $sid === false ? '>0 OR sid=-1' : '='.(int)$sid;
	$where_sets = $sid === false ? '>0' : '='.(int)$sid;
	$writes = array();
	$have = array(-2, -1);
	$query = $db->simple_select('templates', 'sid, template', "title = '".$db->escape_string($title)."' AND (sid{$where})");
	while($template = $db->fetch_array($query))
	{
		$have[] = (int)$template['sid'];
		$new = preg_replace($pattern, $replacement, $template['template']);
		if($new != $template['template'])
		{
			$writes[] = array('sid' => (int)$template['sid'], 'template' => $new);
		}
	}

	$query = $db->simple_select('templates', 'template', "title = '".$db->escape_string($title)."' AND sid = '-2'", array('limit' => 1));
	$master = $db->fetch_array($query);
	if($master)
	{
		$new = preg_replace($pattern, $replacement, $master['template']);
		if($new != $master['template'])
		{
			$query = $db->simple_select('templatesets', 'sid', 'sid NOT IN ('.implode(',', $have).") AND (sid{$where_sets})");
			while($set = $db->fetch_array($query))
			{
				$writes[] = array('sid' => (int)$set['sid'], 'template' => $new);
			}
		}
	}

	return $writes;
}

/** The sids whose new copy MyBB's check_template() refuses (what the Admin CP calls a security problem). */
function mybb_mcp_template_refused($writes)
{
	global $mybb;

	require_once MYBB_ROOT.$mybb->config['admin_dir'].'/inc/functions.php';
	$refused = array();
	foreach($writes as $write)
	{
		if(check_template($write['template']))
		{
			$refused[] = $write['sid'];
		}
	}

	return $refused;
}

function mybb_mcp_template_run($input)
{
	$title = (string)$input['title'];
	if($input['action'] == 'read')
	{
		return mybb_mcp_template_read($title);
	}

	require_once MYBB_ROOT.'inc/adminfunctions_templates.php';
	// Literal text, as plugins pass it: quoted for preg_replace, the replacement's \ and $ escaped.
	$pattern = '#'.preg_quote((string)$input['find'], '#').'#';
	$replacement = str_replace(array('\\', '$'), array('\\\\', '\\$'), (string)$input['replace']);
	$sid = $input['sid'] === null ? false : (int)$input['sid'];

	$refused = mybb_mcp_template_refused(mybb_mcp_template_writes($title, $pattern, $replacement, $sid));
	if($input['action'] != 'apply' || $refused)
	{
		return array('refused' => $refused, 'changed' => false);
	}

	return array('refused' => array(), 'changed' => (bool)find_replace_templatesets($title, $pattern, $replacement, 1, $sid));
}

$result = mybb_mcp_template_run($input);
