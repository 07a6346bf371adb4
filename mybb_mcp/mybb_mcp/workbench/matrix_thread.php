<?php
/**
 * A thread for the matrix's throwaway forum (workbench/matrix.py), posted by MyBB's own PostDataHandler
 * as the forum's first user in its first forum, so that a thread page is among the pages a cell loads.
 * Runs with MyBB booted (forum/php.py): $input holds fid, $result gets the thread's tid, or the errors.
 */

require_once MYBB_ROOT.'inc/functions_post.php';
require_once MYBB_ROOT.'inc/datahandlers/post.php';

$user = get_user(1);
$posthandler = new PostDataHandler('insert');
$posthandler->action = 'thread';
$posthandler->set_data(array(
	'fid' => (int)$input['fid'],
	'subject' => 'A thread for the matrix',
	'prefix' => 0,
	'icon' => 0,
	'uid' => (int)$user['uid'],
	'username' => $user['username'],
	'message' => 'The first post of the thread, with [b]MyCode[/b].',
	'ipaddress' => '127.0.0.1',
	'posthash' => md5(TIME_NOW.random_str()),
	'savedraft' => 0,
	'options' => array('signature' => 0, 'subscriptionmethod' => '', 'disablesmilies' => 0),
));

if(!$posthandler->validate_thread())
{
	$result = array('errors' => array_values(array_map('strip_tags', $posthandler->get_friendly_errors())));
}
else
{
	$thread = $posthandler->insert_thread();
	$result = array('tid' => (int)$thread['tid']);
}
