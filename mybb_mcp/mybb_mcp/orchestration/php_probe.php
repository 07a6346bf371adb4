<?php
/**
 * What the PHP binary brings that matters for development, as one JSON line (orchestration/php_dev.py):
 * its version, Xdebug's version and mode, and whether OPcache is loaded. Run with the server's -d flags.
 */

echo json_encode(array(
	'version' => PHP_VERSION,
	'xdebug' => phpversion('xdebug') ?: null,
	'xdebug_mode' => ini_get('xdebug.mode'),
	'opcache' => extension_loaded('Zend OPcache'),
));
