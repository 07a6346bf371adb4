<?php
/**
 * Says whether a PHP build runs with the extensions named on the command line:
 * prints PHP_VERSION when every one is loaded, else "missing extensions: ..." and exits 1.
 *
 * Usage: php php_build_check.php EXTENSION [EXTENSION ...]
 */

$missing = array();
foreach(array_slice($argv, 1) as $extension)
{
	if(!extension_loaded($extension))
	{
		$missing[] = $extension;
	}
}

if($missing)
{
	echo 'missing extensions: '.implode(', ', $missing);
	exit(1);
}

echo PHP_VERSION;
