<?php
/**
 * One page request run for mybb_server_request, loaded by orchestration/router.php only when the
 * request carries this server's workbench secret (a visitor cannot ask for any of this).
 *
 * MyBB creates its `$templates` and `$plugins` objects in inc/init.php. The router leaves a stand-in
 * in each global first; when init.php assigns MyBB's object, the stand-in is released and its
 * destructor swaps in MyBB's own class extended by a few lines: the templates it served (title,
 * whether cached, and the line that got each, which is where MyBB evals it: what names the template
 * behind an error in "FILE(LINE) : eval()'d code"), and, only when asked, the hooks run in order with
 * the functions they called and plugins left out of the load for this request. With plugins "none", MyBB's own
 * switch (NO_PLUGINS) is used. What the request printed is watched, and, only when asked, its queries and the
 * time of its plugin functions are taken through MyBB's own `$db` and hooks (request_costs.php). At the very
 * end of the request, what was seen is written to
 * `<workbench dir>/trace-<id>-<client port>.json` for the tool to read.
 */

const MYBB_MCP_MAX_HOOK_ENTRIES = 600;

final class MybbMcpStandIn
{
    private $global;

    public function __construct($global)
    {
        $this->global = $global;
    }

    public function __destruct()
    {
        $now = $GLOBALS[$this->global] ?? null;
        if ($this->global === 'templates' && class_exists('templates', false) && $now instanceof templates
            && !($now instanceof MybbMcpTemplates)) {
            require_once __DIR__ . '/request_templates.php';
            $GLOBALS['templates'] = new MybbMcpTemplates();
        } elseif ($this->global === 'plugins' && class_exists('pluginSystem', false) && $now instanceof pluginSystem
            && !($now instanceof MybbMcpPlugins)) {
            require_once __DIR__ . '/request_plugins.php';
            $GLOBALS['plugins'] = new MybbMcpPlugins();
        } elseif ($this->global === 'db' && is_object($now) && ($class = mybb_mcp_costs_db_class($now)) !== null) {
            // Before MyBB connects: its own driver class, extended to time each query (request_costs_db.php).
            $GLOBALS['db'] = new $class();
            $GLOBALS['mybb_mcp_costs']['db_class'] = get_parent_class($GLOBALS['db']);
        }
    }
}

function mybb_mcp_request_begin(array $options, $out_file)
{
    $GLOBALS['mybb_mcp_request'] = array(
        'options' => $options, 'out_file' => $out_file, 'hooks' => array(), 'hooks_dropped' => 0,
        'templates' => array(), 'eval_sites' => array(), 'skipped' => array(),
        'functions' => array(),
    );
    require_once __DIR__ . '/request_costs.php';
    mybb_mcp_output_begin();  // always: what broke an answer that should be JSON
    if (!empty($options['queries']) || !empty($options['profile'])) {
        mybb_mcp_costs_begin($options);
        $GLOBALS['db'] = new MybbMcpStandIn('db');
    }
    if (($options['plugins'] ?? null) === 'none') {
        define('NO_PLUGINS', 1);  // MyBB's own switch: init.php loads no plugin
    }
    $GLOBALS['templates'] = new MybbMcpStandIn('templates');
    if (!empty($options['trace']) || is_array($options['plugins'] ?? null) || !empty($options['queries'])
        || !empty($options['profile'])) {
        $GLOBALS['plugins'] = new MybbMcpStandIn('plugins');  // only when asked: it is a frame in every hook's trace
    }
    register_shutdown_function(static function () {
        mybb_mcp_costs_exit_mark();  // the script's own end, before MyBB's shutdown work
        // Registered again from here: it runs after MyBB's own shutdown work.
        register_shutdown_function('mybb_mcp_request_end');
    });
}

/**
 * The set each title is in (the theme's, global or master, as MyBB's templates->get() looks), one query; null
 * when it cannot be looked up.
 */
function mybb_mcp_template_sets(array $titles)
{
    global $db, $theme;
    if (!$titles) {
        return array();
    }
    if (!isset($db) || !is_object($db)) {
        return null;
    }
    $sid = isset($theme['templateset']) ? (int)$theme['templateset'] : 0;
    $quoted = array();
    foreach ($titles as $title) {
        $quoted[] = "'" . $db->escape_string($title) . "'";
    }
    $sets = array();
    try {
        $query = $db->simple_select('templates', 'title, sid', 'title IN (' . implode(',', $quoted) . ") AND sid IN ('-2','-1','{$sid}')");
        while ($row = $db->fetch_array($query)) {
            if (!isset($sets[$row['title']]) || (int)$row['sid'] > $sets[$row['title']]) {
                $sets[$row['title']] = (int)$row['sid'];
            }
        }
        $names = array(-2 => 'master', -1 => 'global');
        if ($sid > 0) {
            $query = $db->simple_select('templatesets', 'title', "sid='{$sid}'");
            $names[$sid] = (string)$db->fetch_field($query, 'title');
        }
    } catch (Throwable $e) {
        return null;
    }
    $out = array();
    foreach ($sets as $title => $set) {
        $out[$title] = array('sid' => $set, 'set' => $names[$set] ?? (string)$set);
    }
    return $out;
}

/**
 * The plugins MyBB loaded for a plain request: the active ones of its `plugins` datacache (already read by
 * init.php); none under NO_PLUGINS. Null when MyBB did not get that far.
 */
function mybb_mcp_active_plugins()
{
    if (defined('NO_PLUGINS')) {
        return array();
    }
    if (!isset($GLOBALS['cache']) || !is_object($GLOBALS['cache']) || !isset($GLOBALS['cache']->cache['plugins'])) {
        return null;
    }
    $active = $GLOBALS['cache']->cache['plugins']['active'] ?? array();
    return is_array($active) ? array_values(array_map('strval', array_keys($active))) : null;
}

function mybb_mcp_request_end()
{
    $costs = mybb_mcp_costs_end();  // first: the workbench's own queries below are not the request's
    $state = $GLOBALS['mybb_mcp_request'];
    $sets = mybb_mcp_template_sets(array_keys($state['templates']));
    $templates = array();
    $missing = $sets === null ? null : array();  // always: a template in no set renders as nothing, silently
    foreach ($state['templates'] as $title => $seen) {
        $templates[] = array('title' => (string)$title, 'count' => $seen[0], 'cached' => $seen[1],
            'set' => $sets[$title]['set'] ?? null, 'sid' => $sets[$title]['sid'] ?? null);
        if ($seen[2] && $sets !== null && !isset($sets[$title])) {
            $missing[] = (string)$title;
        }
    }
    $eval_sites = array();
    foreach ($state['eval_sites'] as $site => $entries) {
        foreach ($entries as $entry) {
            $eval_sites[$site][] = array($entry[0], $entry[1], $sets[$entry[0]]['set'] ?? null);
        }
    }
    $plugins_loaded = null;
    if (isset($GLOBALS['plugins']) && $GLOBALS['plugins'] instanceof MybbMcpPlugins) {
        $plugins_loaded = $GLOBALS['plugins']->mybb_mcp_loaded;
    }
    $answer = array(
        'trace' => !empty($state['options']['trace']),
        'plugins_option' => $state['options']['plugins'] ?? null,
        'no_plugins' => defined('NO_PLUGINS'),
        'plugins_loaded' => $plugins_loaded,
        'skipped' => $state['skipped'],
        'hooks' => !empty($state['options']['trace']) ? $state['hooks'] : array(),
        'hooks_dropped' => $state['hooks_dropped'],
        'functions' => $state['functions'],
        'templates' => !empty($state['options']['trace']) ? $templates : array(),
        'missing_templates' => $missing,
        'eval_sites' => $eval_sites,
        'included' => get_included_files(),
        'active' => mybb_mcp_active_plugins(),
    ) + $costs;
    $handle = @fopen($state['out_file'], 'x');  // never over an existing file (nor through a symlink)
    if ($handle) {
        fwrite($handle, json_encode($answer, JSON_PARTIAL_OUTPUT_ON_ERROR | JSON_INVALID_UTF8_SUBSTITUTE));
        fclose($handle);
    }
}
