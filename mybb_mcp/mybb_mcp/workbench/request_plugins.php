<?php
/**
 * MyBB's `pluginSystem`, extended for one request of mybb_server_request (see request.php): loaded once
 * MyBB has declared the class, so that it can be extended.
 */

final class MybbMcpPlugins extends pluginSystem
{
    public $mybb_mcp_loaded = array();

    /** MyBB's load(), leaving out the plugins asked off for this request. */
    public function load()
    {
        global $cache, $plugins;
        $off = $GLOBALS['mybb_mcp_request']['options']['plugins'] ?? null;
        $plugin_list = $cache->read('plugins');
        if (!empty($plugin_list['active']) && is_array($plugin_list['active'])) {
            foreach ($plugin_list['active'] as $plugin) {
                if (is_array($off) && in_array($plugin, $off, true)) {
                    $GLOBALS['mybb_mcp_request']['skipped'][] = (string)$plugin;
                    continue;
                }
                if ($plugin != '' && file_exists(MYBB_ROOT . 'inc/plugins/' . $plugin . '.php')) {
                    require_once MYBB_ROOT . 'inc/plugins/' . $plugin . '.php';
                    $this->mybb_mcp_loaded[] = (string)$plugin;
                }
            }
        }
    }

    public function run_hooks($hook, &$arguments = '')
    {
        $state = &$GLOBALS['mybb_mcp_request'];
        if (!empty($state['options']['trace'])) {
            $called = array();
            if (isset($this->hooks[$hook]) && is_array($this->hooks[$hook])) {
                $by_priority = $this->hooks[$hook];
                ksort($by_priority);
                foreach ($by_priority as $hooks) {
                    foreach ((array)$hooks as $entry) {
                        $called[] = mybb_mcp_function_name($entry);
                    }
                }
            }
            $entries = &$state['hooks'];
            $at = count($entries) - 1;
            if ($at >= 0 && $entries[$at][0] === $hook && $entries[$at][2] === $called) {
                $entries[$at][1]++;  // the same hook again at once (postbit per post): counted
            } elseif ($at + 1 < MYBB_MCP_MAX_HOOK_ENTRIES) {
                $entries[] = array((string)$hook, 1, $called);
            } else {
                $state['hooks_dropped']++;
            }
        }
        if (isset($GLOBALS['mybb_mcp_costs'])) {  // queries or profile asked: MyBB's loop, each function timed
            return mybb_mcp_costs_run_hooks($this, $hook, $arguments);
        }
        return parent::run_hooks($hook, $arguments);
    }
}

/** A hook's function as "name", with where it is defined remembered once. */
function mybb_mcp_function_name(array $entry)
{
    $functions = &$GLOBALS['mybb_mcp_request']['functions'];
    try {
        if (array_key_exists('class_method', $entry)) {
            $method = $entry['class_method'];
            $name = is_array($method)
                ? (is_object($method[0]) ? get_class($method[0]) : (string)$method[0]) . '::' . (string)$method[1]
                : (string)$method;
            if (!isset($functions[$name])) {
                $reflection = is_array($method) ? new ReflectionMethod($method[0], $method[1]) : null;
                $functions[$name] = $reflection
                    ? array(mybb_mcp_request_relative($reflection->getFileName()), $reflection->getStartLine()) : null;
            }
            return $name;
        }
        $name = (string)$entry['function'];
        if (!isset($functions[$name])) {
            if (!empty($entry['file']) && !function_exists($name)) {
                $functions[$name] = array(mybb_mcp_request_relative($entry['file']), 0);
            } else {
                $reflection = new ReflectionFunction($name);
                $functions[$name] = array(mybb_mcp_request_relative($reflection->getFileName()), $reflection->getStartLine());
            }
        }
        return $name;
    } catch (Throwable $e) {
        $functions[$name ?? '?'] = null;  // MyBB will say what is wrong when it calls it
        return $name ?? '?';
    }
}

function mybb_mcp_request_relative($file)
{
    $file = (string)$file;
    return defined('MYBB_ROOT') && strpos($file, MYBB_ROOT) === 0 ? substr($file, strlen(MYBB_ROOT)) : $file;
}
