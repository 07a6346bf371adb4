<?php
/**
 * A PHP snippet inside the booted forum, run by forum/php.py's run_mybb_php after global.php (as a page
 * loads it). $input: {code}. The snippet runs through eval() at the top level, so $mybb, $db, $cache,
 * $templates and $lang are there; its return value (var_export), its output, the errors it raised, and
 * the exception it threw are answered after the result marker, even when it dies (a fatal error or
 * exit() ends in the shutdown function). Its names carry the __mybb_mcp prefix: the snippet shares the
 * global scope and must not meet them. (The eval() stays on the line it had in the Python string it came
 * from: errors in the snippet are reported at "Command line code(48) : eval()'d code".)
 */

$GLOBALS['__mybb_mcp_eval'] = array('done' => false, 'errors' => array());

register_shutdown_function(function()
{
	__mybb_mcp_finish('__mybb_mcp_fatal');
});

set_error_handler(function($type, $message, $file, $line)
{
	$state =& $GLOBALS['__mybb_mcp_eval'];
	if(count($state['errors']) < 50)
	{
		$state['errors'][] = array('type' => $type, 'message' => $message, 'file' => $file, 'line' => $line);
	}
	return true;
});

$GLOBALS['__mybb_mcp_ob'] = ob_get_level();
ob_start();
try
{
	$__mybb_mcp_value = eval($input['code']);
	__mybb_mcp_finish($__mybb_mcp_value);
}
catch(Throwable $__mybb_mcp_e)
{
	__mybb_mcp_finish(null, array(
		'class' => get_class($__mybb_mcp_e),
		'message' => $__mybb_mcp_e->getMessage(),
		'file' => $__mybb_mcp_e->getFile(),
		'line' => $__mybb_mcp_e->getLine(),
	));
}

// Declared at the top level, so known before the snippet runs; here, after it, to read it last.
function __mybb_mcp_finish($value, $threw = null)
{
	$state =& $GLOBALS['__mybb_mcp_eval'];
	if($state['done'])
	{
		return;
	}
	$state['done'] = true;

	$output = '';
	while(ob_get_level() > $GLOBALS['__mybb_mcp_ob'])
	{
		$output = ob_get_clean().$output;
	}

	$last = error_get_last();
	if($threw === null && $last && in_array($last['type'], array(E_ERROR, E_CORE_ERROR, E_COMPILE_ERROR, E_PARSE)))
	{
		$state['errors'][] = array(
			'type' => 'fatal',
			'message' => $last['message'],
			'file' => $last['file'],
			'line' => $last['line'],
		);
	}

	$exported = null;
	if($value !== null || $threw === null)
	{
		$exported = var_export($value, true);
	}

	echo "\n--mybb-mcp-result--\n", json_encode(array(
		'return' => $exported,
		'output' => $output,
		'errors' => $state['errors'],
		'exception' => $threw,
		'finished' => $value !== '__mybb_mcp_fatal',
	), JSON_PARTIAL_OUTPUT_ON_ERROR | JSON_INVALID_UTF8_SUBSTITUTE);
	exit(0);
}
