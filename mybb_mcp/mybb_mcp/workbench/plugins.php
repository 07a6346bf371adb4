<?php
/**
 * The plugin workbench's PHP, run by forum/php.py's run_mybb_php (MyBB booted, `$input` given,
 * `$result` answered). $input: {action: list|lifecycle|check, name?, step?, functions?}.
 *
 * lifecycle follows admin/modules/config/plugins.php ("activate" / "deactivate", with uninstall=1 for
 * uninstall): the same MyBB functions in the same order, the `plugins` cache updated as it does. The
 * Admin CP's log_admin_action is not called: there is no admin user in this process.
 *
 * Everything lives in functions: a top-level `return` would skip run_mybb_php's epilogue.
 */

const MYBB_MCP_LIFECYCLE = array('info', 'is_installed', 'install', 'activate', 'deactivate', 'uninstall');

final class MybbMcpStopped extends Exception
{
}

/** MyBB's own error handler, answering into our list: a SQL error stops the run as it stops a page. */
final class MybbMcpErrors extends errorHandler
{
    public $problems = array();

    public function __construct()
    {
        // No parent constructor: it would install itself as PHP's error handler.
    }

    public function error($type, $message, $file = null, $line = 0, $allow_output = true)
    {
        if ($type == MYBB_SQL) {
            $text = is_array($message)
                ? 'SQL error ' . mybb_mcp_text($message['error_no'] ?? '?') . ': ' . mybb_mcp_text($message['error'] ?? '')
                    . ' — query: ' . mybb_mcp_text($message['query'] ?? '')
                : (string)$message;
            list($file, $line) = mybb_mcp_plugin_frame(debug_backtrace(DEBUG_BACKTRACE_IGNORE_ARGS));
            throw new MybbMcpStopped($text . "\0" . $file . "\0" . $line);
        }
        $this->problems[] = mybb_mcp_problem('error', (string)$message, (string)$file, (int)$line);
        return true;
    }
}

function mybb_mcp_text($value)
{
    return is_scalar($value) ? (string)$value : (string)json_encode($value, JSON_PARTIAL_OUTPUT_ON_ERROR);
}

function mybb_mcp_relative($file)
{
    $file = (string)$file;
    return strpos($file, MYBB_ROOT) === 0 ? substr($file, strlen(MYBB_ROOT)) : $file;
}

function mybb_mcp_problem($kind, $message, $file, $line)
{
    return array('kind' => $kind, 'message' => (string)$message, 'file' => mybb_mcp_relative($file), 'line' => (int)$line);
}

/** The first frame in a plugin file (where the plugin called what failed), else the innermost. */
function mybb_mcp_plugin_frame(array $trace)
{
    foreach ($trace as $frame) {
        if (isset($frame['file']) && strpos($frame['file'], MYBB_ROOT . 'inc/plugins/') === 0) {
            return array(mybb_mcp_relative($frame['file']), (int)$frame['line']);
        }
    }
    foreach ($trace as $frame) {
        if (isset($frame['file'])) {
            return array(mybb_mcp_relative($frame['file']), (int)$frame['line']);
        }
    }
    return array('', 0);
}

function mybb_mcp_collect_php_errors()
{
    $GLOBALS['mybb_mcp_problems'] = array();
    set_error_handler(static function ($no, $message, $file, $line) {
        if (error_reporting() & $no) {
            $kinds = array(E_WARNING => 'warning', E_NOTICE => 'notice', E_DEPRECATED => 'deprecated',
                E_USER_ERROR => 'error', E_USER_WARNING => 'warning', E_USER_NOTICE => 'notice',
                E_USER_DEPRECATED => 'deprecated');
            $GLOBALS['mybb_mcp_problems'][] = mybb_mcp_problem($kinds[$no] ?? 'error', $message, $file, $line);
        }
        return true;
    });
}

function mybb_mcp_active()
{
    global $cache;
    $plugins_cache = $cache->read('plugins');
    $active = is_array($plugins_cache) && isset($plugins_cache['active']) && is_array($plugins_cache['active'])
        ? $plugins_cache['active'] : array();
    return array_values(array_map('strval', $active));
}

function mybb_mcp_installed($codename)
{
    $function = "{$codename}_is_installed";
    return function_exists($function) ? (bool)$function() : null;
}

function mybb_mcp_describe($codename)
{
    global $plugins;
    $entry = array('codename' => $codename, 'functions' => array(), 'problems' => array());
    mybb_mcp_collect_php_errors();
    try {
        require_once MYBB_ROOT . "inc/plugins/{$codename}.php";
        foreach (MYBB_MCP_LIFECYCLE as $part) {
            if (function_exists("{$codename}_{$part}")) {
                $entry['functions'][] = $part;
            }
        }
        $info = function_exists("{$codename}_info") ? call_user_func("{$codename}_info") : null;
        $entry['info'] = is_array($info) ? array_map(static function ($v) {
            return is_scalar($v) ? (string)$v : null;
        }, $info) : null;
        $entry['compatible'] = (bool)$plugins->is_compatible($codename);
        $entry['installed'] = mybb_mcp_installed($codename);
    } catch (Throwable $e) {
        $entry['problems'][] = mybb_mcp_problem(get_class($e), $e->getMessage(), $e->getFile(), $e->getLine());
    }
    restore_error_handler();
    $entry['problems'] = array_merge($entry['problems'], $GLOBALS['mybb_mcp_problems']);
    return $entry;
}

function mybb_mcp_list()
{
    global $mybb;
    $found = array();
    foreach (scandir(MYBB_ROOT . 'inc/plugins/') ?: array() as $file) {
        if (preg_match('/^([A-Za-z0-9_]+)\.php$/', $file, $match) && is_file(MYBB_ROOT . 'inc/plugins/' . $file)) {
            $found[] = $match[1];
        }
    }
    sort($found);
    $plugins_out = array();
    foreach ($found as $codename) {
        $plugins_out[] = mybb_mcp_describe($codename);
    }
    return array('mybb_version' => $mybb->version, 'active' => mybb_mcp_active(), 'plugins' => $plugins_out);
}

/** One lifecycle step, as the Admin CP runs it. $step: install|activate|deactivate|uninstall. */
function mybb_mcp_lifecycle($codename, $step)
{
    global $cache, $plugins, $mybb, $lang;
    $out = array('step' => $step, 'ran' => array(), 'completed' => false, 'refused' => null,
        'active_before' => mybb_mcp_active(), 'problems' => array());
    $GLOBALS['mybb_mcp_partial'] = &$out;  // what an exit() mid-run still answers
    try {
        require_once MYBB_ROOT . "inc/plugins/{$codename}.php";
        $installed = mybb_mcp_installed($codename);
    } catch (Throwable $e) {
        $out['problems'][] = mybb_mcp_problem(get_class($e), $e->getMessage(), $e->getFile(), $e->getLine());
        $out['refused'] = 'cannot be loaded';
        return $out;
    }
    $out['installed_before'] = $installed;
    if ($step === 'install' && $installed === true && function_exists("{$codename}_install")) {
        $out['refused'] = 'already installed';
        return $out;
    }
    if ($step === 'uninstall' && !function_exists("{$codename}_uninstall")) {
        $out['refused'] = 'no _uninstall function';
        return $out;
    }
    if ($step === 'uninstall' && $installed === false) {
        $out['refused'] = 'not installed';
        return $out;
    }
    $activating = $step === 'install' || $step === 'activate';
    if ($activating && $plugins->is_compatible($codename) == false) {
        $out['refused'] = "not compatible with MyBB {$mybb->version}";
        return $out;
    }
    $previous_handler = $GLOBALS['error_handler'] ?? null;
    $GLOBALS['error_handler'] = $errors = new MybbMcpErrors();
    mybb_mcp_collect_php_errors();
    ob_start();
    try {
        $plugins->run_hooks($activating ? 'admin_config_plugins_activate' : 'admin_config_plugins_deactivate');
        $plugins_cache = $cache->read('plugins');
        $active_plugins = isset($plugins_cache['active']) ? $plugins_cache['active'] : array();
        // "If not installed and there is a custom installation function" (Admin CP, Activate).
        $is_installed = $installed !== false;
        if ($activating) {
            if (!$is_installed && function_exists("{$codename}_install")) {
                $out['ran'][] = 'install';
                call_user_func("{$codename}_install");
            }
            if (function_exists("{$codename}_activate")) {
                $out['ran'][] = 'activate';
                call_user_func("{$codename}_activate");
            }
            $active_plugins[$codename] = $codename;
        } else {
            if (function_exists("{$codename}_deactivate")) {
                $out['ran'][] = 'deactivate';
                call_user_func("{$codename}_deactivate");
            }
            if ($step === 'uninstall') {
                $out['ran'][] = 'uninstall';
                call_user_func("{$codename}_uninstall");
            }
            unset($active_plugins[$codename]);
        }
        if (!is_array($plugins_cache)) {
            $plugins_cache = array();
        }
        $plugins_cache['active'] = $active_plugins;
        $cache->update('plugins', $plugins_cache);
        $plugins->run_hooks($activating ? 'admin_config_plugins_activate_commit' : 'admin_config_plugins_deactivate_commit');
        $out['completed'] = true;
    } catch (MybbMcpStopped $e) {
        list($message, $file, $line) = explode("\0", $e->getMessage());
        $out['problems'][] = array('kind' => 'sql', 'message' => $message, 'file' => $file, 'line' => (int)$line);
    } catch (Throwable $e) {
        list($file, $line) = array(mybb_mcp_relative($e->getFile()), $e->getLine());
        $out['problems'][] = array('kind' => get_class($e), 'message' => $e->getMessage(), 'file' => $file, 'line' => $line);
    }
    $out['output'] = (string)ob_get_clean();
    restore_error_handler();
    $GLOBALS['error_handler'] = $previous_handler;
    $out['problems'] = array_merge($GLOBALS['mybb_mcp_problems'], $errors->problems, $out['problems']);
    $out['active_after'] = mybb_mcp_active();
    $out['installed_after'] = mybb_mcp_installed($codename);
    return $out;
}

/** Whether each named function exists once the plugin file is loaded; the plugin's own description. */
function mybb_mcp_check($codename, array $functions)
{
    global $mybb;
    $entry = mybb_mcp_describe($codename);
    $exists = array();
    foreach ($functions as $function) {
        $exists[$function] = is_string($function) && function_exists($function);
    }
    return array('mybb_version' => $mybb->version, 'version_code' => $mybb->version_code,
        'plugin' => $entry, 'functions_exist' => $exists, 'active' => mybb_mcp_active());
}

/** A run stopped by exit() or die() (a plugin's, or MyBB's error page) still answers. */
function mybb_mcp_stopped_answer()
{
    if (!empty($GLOBALS['mybb_mcp_answered'])) {
        return;
    }
    $partial = $GLOBALS['mybb_mcp_partial'] ?? array();
    $output = '';
    while (ob_get_level() > 0) {
        $output = ob_get_clean() . $output;
    }
    $partial['completed'] = false;
    $partial['output'] = $output;
    $partial['stopped'] = true;
    $partial['problems'] = array_merge($GLOBALS['mybb_mcp_problems'] ?? array(), $partial['problems'] ?? array());
    $last = error_get_last();
    if ($last && ($last['type'] & (E_ERROR | E_PARSE | E_CORE_ERROR | E_COMPILE_ERROR))) {
        $partial['problems'][] = mybb_mcp_problem('fatal', $last['message'], $last['file'], $last['line']);
    }
    echo "\n--mybb-mcp-result--\n", json_encode($partial, JSON_PARTIAL_OUTPUT_ON_ERROR | JSON_INVALID_UTF8_SUBSTITUTE);
}

register_shutdown_function('mybb_mcp_stopped_answer');
// The Admin CP's language (admin/index.php): plugins load their admin language files in _info.
if (isset($lang) && is_object($lang)) {
    try {
        $lang->set_language(!empty($mybb->settings['cplanguage']) ? $mybb->settings['cplanguage'] : 'english', 'admin');
        $lang->load('global');
        $lang->load('messages', true);
    } catch (Throwable $e) {
        // Without it a plugin's _info may warn; the answer shows that.
    }
}
$GLOBALS['mybb_mcp_partial'] = array('step' => $input['step'] ?? null, 'ran' => array());
if ($input['action'] === 'list') {
    $result = mybb_mcp_list();
} elseif ($input['action'] === 'lifecycle') {
    $result = mybb_mcp_lifecycle($input['name'], $input['step']);
} else {
    $result = mybb_mcp_check($input['name'], $input['functions'] ?? array());
}
$GLOBALS['mybb_mcp_answered'] = true;
