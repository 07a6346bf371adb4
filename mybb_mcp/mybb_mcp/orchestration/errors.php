<?php
/**
 * mybb-mcp's error channel: what PHP logs, vouched for by the tool, apart from text a page writes.
 *
 * Loaded before every script php -S runs (`-d auto_prepend_file`, set by mybb-mcp). PHP's log writes a
 * message verbatim, so request data in it (`Undefined array key "<what a visitor sent>"`) or text a
 * page passes to error_log() can hold whole forged lines, with any stamp. PHP still logs as it did;
 * this file writes, just before PHP logs an error, a receipt for it, and at the end of each request a
 * line naming what PHP logged that no handler sees (fatal errors, compile warnings). Each line is
 * JSON-escaped (no newline or control character survives) and signed with an HMAC under a key only
 * the tool and this server know (read from the file MYBB_MCP_ERROR_KEYS names, 0600; never in the
 * environment a page can print). A request's lines are framed by signed `begin` and `end` lines with
 * a random request id: between them a worker writes only that request's output and php -S's one line
 * about it (which `end` describes). The tool's reader (logs/forgery.py) believes a PHP error line there
 * only with its receipt or its mention in `end`; any other, and any other php -S line, is a page's text.
 *
 * Which errors get a receipt: those PHP logs (error_reporting, plus the kinds Xdebug's
 * force_error_reporting adds), not those MyBB's own error handler takes (it never lets PHP log them).
 * MyBB installs its handler in inc/init.php (`$error_handler = new errorHandler();`): the stand-in left
 * in that global is released right then, and puts MyBB's handler with the receipts (errors_mybb.php)
 * in its place, so the kinds MyBB leaves to PHP (notices, deprecations) get theirs too.
 *
 * The notices and deprecations MyBB drops (its constructor takes them out of error_reporting() on every
 * request) PHP never logs; only Xdebug's force_error_reporting brings them back, and a PHP build without
 * Xdebug has none. Where Xdebug does not force a kind, this channel logs it itself: its receipt, then the
 * line PHP would have written, in PHP's own format and through the same server log (one line per entry).
 *
 * Everything lives in classes named MybbMcp: this runs in the global scope of every script (twice per
 * request with the router: once before it, once before the script it hands over to).
 */

if (!class_exists('MybbMcpErrorChannel', false)) {

	final class MybbMcpErrorChannel
	{
		const FATAL = 341; // E_ERROR | E_PARSE | E_CORE_ERROR | E_COMPILE_ERROR | E_USER_ERROR: what php -S puts on its line
		const UNHANDLED = 245; // E_ERROR | E_PARSE | E_CORE_ERROR | E_CORE_WARNING | E_COMPILE_ERROR | E_COMPILE_WARNING
		const DROPPED = 27656; // E_NOTICE | E_STRICT | E_USER_NOTICE | E_DEPRECATED | E_USER_DEPRECATED

		private static $key = null;
		private static $request = '';
		private static $forced = 0;
		private static $mybb_mask = 0; // the kinds MyBB's own handler takes, once it is installed
		private static $unhandled = array();

		public static function start()
		{
			$file = getenv('MYBB_MCP_ERROR_KEYS');
			unset($_SERVER['MYBB_MCP_ERROR_KEYS'], $_ENV['MYBB_MCP_ERROR_KEYS']);
			if(!is_string($file) || $file === '' || !is_file($file))
			{
				return;
			}
			$lines = @file($file, FILE_IGNORE_NEW_LINES | FILE_SKIP_EMPTY_LINES);
			$key = is_array($lines) && $lines ? trim((string)end($lines)) : '';
			if(!preg_match('/^[0-9a-f]{64}$/', $key))
			{
				return;
			}
			self::$key = $key;
			self::$request = bin2hex(random_bytes(8));
			self::$forced = (int)ini_get('xdebug.force_error_reporting');
			self::write('begin', array(
				'port' => (int)($_SERVER['REMOTE_PORT'] ?? 0),
				'method' => (string)($_SERVER['REQUEST_METHOD'] ?? ''),
				'uri' => substr((string)($_SERVER['REQUEST_URI'] ?? ''), 0, 300),
			));
			set_error_handler(array('MybbMcpErrorChannel', 'handle'));
			register_shutdown_function(static function () {
				// Registered again from here: it runs after the shutdown work of the forum.
				register_shutdown_function(array('MybbMcpErrorChannel', 'finish'));
			});
			$GLOBALS['error_handler'] = new MybbMcpErrorHandlerStandIn();
		}

		/**
		 * Called by the stand-in just after MyBB's errorHandler installed itself: MyBB's handler, as a subclass
		 * that also writes the receipts for the kinds MyBB leaves to PHP, takes its place.
		 */
		public static function chain()
		{
			self::$mybb_mask = error_reporting(); // what MyBB's constructor has just set, and handles
			require_once __DIR__.'/errors_mybb.php'; // now that MyBB has declared errorHandler
			$handler = new MybbMcpErrorHandler();
			$GLOBALS['error_handler'] = $handler;
			// In place of MyBB's handler, not above it: a plugin's restore_error_handler() must reach what
			// was there before MyBB (PHP's own handling, through this channel), as it would without the tool.
			restore_error_handler();
			set_error_handler(array($handler, 'error_callback'));
		}

		public static function mybb_mask()
		{
			return self::$mybb_mask;
		}

		public static function handle($type, $message, $file = '', $line = 0)
		{
			self::seen();
			if($type & (error_reporting() | self::$forced))
			{
				self::write('error', array('line' => self::logged($type, (string)$message, (string)$file, (int)$line)));
			}
			return false; // PHP logs it (and displays it) as it would have
		}

		/**
		 * An error MyBB's handler does not take: a notice or deprecation MyBB switched off is logged here, as
		 * PHP would have logged it, unless Xdebug forces it (PHP logs it then), the page silenced it with @
		 * or changed error_reporting() itself (it is no longer what MyBB set).
		 */
		public static function dropped($type, $message, $file = '', $line = 0)
		{
			if(($type & self::DROPPED) && !($type & (error_reporting() | self::$forced)) && error_reporting() === self::$mybb_mask)
			{
				self::seen();
				$entry = self::logged($type, (string)$message, (string)$file, (int)$line);
				self::write('error', array('line' => $entry));
				error_log($entry, 4); // the server log, as PHP writes it when error_log is unset
				return false;
			}
			return self::handle($type, $message, $file, $line);
		}

		/** What PHP logged that no handler sees (a compile warning, a fatal error): error_get_last() tells. */
		public static function seen()
		{
			$last = error_get_last();
			if(is_array($last) && ($last['type'] & self::UNHANDLED))
			{
				$entry = self::logged($last['type'], (string)$last['message'], (string)$last['file'], (int)$last['line']);
				if(end(self::$unhandled) !== $entry && count(self::$unhandled) < 50)
				{
					self::$unhandled[] = $entry;
				}
			}
		}

		/**
		 * The request's end. php -S has written its line about the request by now (with a fatal error's
		 * message as its suffix); this says what that line holds, and what PHP logged that no handler saw.
		 */
		public static function finish()
		{
			self::seen();
			$last = error_get_last();
			$fatal = is_array($last) && ($last['type'] & self::FATAL) ? self::head((string)$last['message']) : null;
			self::write('end', array('port' => (int)($_SERVER['REMOTE_PORT'] ?? 0), 'status' => (int)http_response_code(),
				'fatal' => $fatal, 'unhandled' => self::$unhandled));
		}

		/** A message's first line, as it starts php -S's line about the request, bounded. */
		private static function head($message)
		{
			$first = strtok((string)$message, "\n");
			return substr($first === false ? '' : $first, 0, 2000);
		}

		/** The first line PHP's log gets for this error, after its stamp (what the reader compares), bounded. */
		private static function logged($type, $message, $file, $line)
		{
			$text = strpos($message, "\n") === false ? "{$message} in {$file} on line {$line}" : strtok($message, "\n");
			return substr('PHP '.self::kind($type).':  '.$text, 0, 4000);
		}

		private static function kind($type)
		{
			switch($type)
			{
				case E_ERROR: case E_CORE_ERROR: case E_COMPILE_ERROR: case E_USER_ERROR:
					return 'Fatal error';
				case E_RECOVERABLE_ERROR:
					return 'Recoverable fatal error';
				case E_PARSE:
					return 'Parse error';
				case E_WARNING: case E_CORE_WARNING: case E_COMPILE_WARNING: case E_USER_WARNING:
					return 'Warning';
				case E_NOTICE: case E_USER_NOTICE:
					return 'Notice';
				case E_DEPRECATED: case E_USER_DEPRECATED:
					return 'Deprecated';
			}
			return 'Unknown error';
		}

		/** One line: `mybb-mcp-KIND:MAC JSON`, the JSON holding the request id; the MAC covers kind and JSON. */
		private static function write($kind, $data)
		{
			$data = array('request' => self::$request) + $data;
			$json = json_encode($data, JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE | JSON_INVALID_UTF8_SUBSTITUTE
				| JSON_PARTIAL_OUTPUT_ON_ERROR);
			$mac = hash_hmac('sha256', $kind.' '.$json, self::$key);
			error_log('mybb-mcp-'.$kind.':'.substr($mac, 0, 32).' '.$json, 4); // 4: the server log, whatever error_log says
		}
	}

	final class MybbMcpErrorHandlerStandIn
	{
		public function __destruct()
		{
			if(isset($GLOBALS['error_handler']) && $GLOBALS['error_handler'] instanceof errorHandler)
			{
				MybbMcpErrorChannel::chain();
			}
		}
	}

	MybbMcpErrorChannel::start();
}
