<?php
/**
 * MyBB's `templates`, extended for one request of mybb_server_request (see request.php): loaded once
 * MyBB has declared the class, so that it can be extended.
 */

final class MybbMcpTemplates extends templates
{
    public function get($title, $eslashes = 1, $htmlcomments = 1)
    {
        $cached = isset($this->cache[$title]);
        $text = parent::get($title, $eslashes, $htmlcomments);
        $state = &$GLOBALS['mybb_mcp_request'];
        if (isset($state['templates'][$title])) {
            $state['templates'][$title][0]++;
        } elseif (count($state['templates']) < 1000) {
            // MyBB caches "" for a title it found in no set: such a one is looked up once at the end.
            $state['templates'][$title] = array(1, $cached, !$cached && ($this->cache[$title] ?? '') === '');
        }
        // MyBB evals a template on the line that gets it (eval("\$x = \"".$templates->get("x")."\";")): PHP
        // names an error in it "FILE(LINE) : eval()'d code:N", and this call site is that FILE(LINE).
        // With tplhtmlcomments on, the template starts one line down, after "<!-- start: NAME -->".
        $caller = debug_backtrace(DEBUG_BACKTRACE_IGNORE_ARGS, 1)[0] ?? array();
        if (isset($caller['file'])) {
            $site = $caller['file'] . '(' . $caller['line'] . ')';
            $sites = &$state['eval_sites'];
            $entry = array((string)$title, strncmp($text, '<!-- start: ', 12) === 0 ? 1 : 0);
            if (!isset($sites[$site])) {
                if (count($sites) < 2000) {
                    $sites[$site] = array($entry);
                }
            } elseif (!in_array($entry, $sites[$site], true) && count($sites[$site]) < 5) {
                $sites[$site][] = $entry;
            }
        }
        return $text;
    }
}
