<?php
/**
 * MyBB's `templates`, extended for one request of mybb_server_request (see request.php): loaded once
 * MyBB has declared the class, so that it can be extended.
 */

final class MybbMcpTemplates extends templates
{
    public function __construct()
    {
        // Now that MyBB's error handler is in place (init.php sets it before $templates): note which
        // template an error in eval()'d code came from, then hand the error on unchanged.
        $previous = null;
        $previous = set_error_handler(static function ($type, $message, $file = null, $line = 0) use (&$previous) {
            mybb_mcp_note_eval_error($message, $file, $line);
            return $previous ? call_user_func($previous, $type, $message, $file, $line) : false;
        });
    }

    public function get($title, $eslashes = 1, $htmlcomments = 1)
    {
        $cached = isset($this->cache[$title]);
        $text = parent::get($title, $eslashes, $htmlcomments);
        $state = &$GLOBALS['mybb_mcp_request'];
        if (isset($state['templates'][$title])) {
            $state['templates'][$title][0]++;
        } elseif (count($state['templates']) < 1000) {
            $state['templates'][$title] = array(1, $cached);
        }
        // With tplhtmlcomments on, the template starts one line down, after "<!-- start: NAME -->".
        $state['last_template'] = array((string)$title, strncmp($text, '<!-- start: ', 12) === 0 ? 1 : 0);
        return $text;
    }
}
