<?php
/**
 * MyBB's error handler with mybb-mcp's receipts (see errors.php), loaded by errors.php once MyBB has
 * declared its errorHandler class (inc/init.php), so that it can be extended.
 */

/**
 * MyBB's error handler, unchanged for the kinds it takes; for the others (notices and deprecations
 * it leaves to PHP) the receipt is written first, and the line too when MyBB has switched them off. Its backtraces leave out this file's frames, so a
 * page's trace shows no frame of the tool.
 */
final class MybbMcpErrorHandler extends errorHandler
{
	public function __construct()
	{
		// No parent constructor: MyBB's own object has set error_reporting; this one takes its place.
	}

	public function error_callback($type, $message, $file = null, $line = 0)
	{
		if($type & MybbMcpErrorChannel::mybb_mask())
		{
			MybbMcpErrorChannel::seen();
			return $this->error($type, $message, $file, $line);
		}
		return MybbMcpErrorChannel::dropped($type, $message, (string)$file, (int)$line);
	}

	public function generate_backtrace($html = true, $strip = 1)
	{
		$trace = parent::generate_backtrace($html, $strip + 1);
		$trace = str_replace('MybbMcpErrorHandler->', 'errorHandler->', $trace);
		if($html)
		{
			return preg_replace('#<tr>\n(?:<td[^>]*>[^<]*</td>\n)*?<td[^>]*>'.preg_quote(__FILE__, '#').'</td>\n.*?</tr>\n#s', '', $trace);
		}
		$lines = array();
		foreach(explode("\n", $trace) as $row)
		{
			if(strpos($row, '['.__FILE__.':') === false)
			{
				$lines[] = $row;
			}
		}
		$number = 0;
		return preg_replace_callback('/^#\d+  /m', static function () use (&$number) {
			return '#'.($number++).'  ';
		}, implode("\n", $lines));
	}
}

