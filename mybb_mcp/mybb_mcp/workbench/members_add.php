<?php
/**
 * A member made by MyBB's own UserDataHandler, run by forum/php.py's run_mybb_php (MyBB booted,
 * `$input` given, `$result` answered). $input: {name, password, email, group}.
 * $result: {uid, username, usergroup, email}, or {errors: [MyBB's words]} when MyBB refuses it.
 */

require_once MYBB_ROOT.'inc/functions_user.php';
require_once MYBB_ROOT.'inc/datahandlers/user.php';

$userhandler = new UserDataHandler('insert');
$userhandler->set_data(array(
	'username' => $input['name'],
	'password' => $input['password'],
	'password2' => $input['password'],
	'email' => $input['email'],
	'email2' => $input['email'],
	'usergroup' => (int)$input['group'],
	'regip' => '127.0.0.1',
	'lastip' => '127.0.0.1',
	'regdate' => TIME_NOW,
	'lastvisit' => TIME_NOW,
	'lastactive' => TIME_NOW,
	'timezone' => $mybb->settings['timezoneoffset'] ?? 0,
	'language' => '',
));

// An admin-made account: MyBB's Admin CP skips the registration-only checks the same way.
$userhandler->admin_override = true;

if(!$userhandler->validate_user())
{
	$result = array('errors' => array_values(array_map('strip_tags', $userhandler->get_friendly_errors())));
}
else
{
	$user_info = $userhandler->insert_user();
	$result = array(
		'uid' => (int)$user_info['uid'],
		'username' => $user_info['username'],
		'usergroup' => (int)$user_info['usergroup'],
		'email' => $user_info['email'],
	);
}
