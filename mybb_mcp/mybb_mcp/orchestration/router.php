<?php
/**
 * mybb-mcp's router for PHP's built-in web server:
 *
 *     php -S 127.0.0.1:8022 -t /path/to/forum /abs/path/to/router.php
 *
 * php -S differs from the servers MyBB supports (Apache, nginx + PHP-FPM) in a way MyBB notices:
 * it leaves $_SERVER['QUERY_STRING'] unset when the URL has no query string, and the Admin CP
 * login page then warns 'Undefined array key "QUERY_STRING"'. This router sets it, then steps
 * aside: returning false hands the request back to the built-in server, which serves it exactly
 * as without a router (static files with their content type, PHP scripts run from their own
 * directory with the same SCRIPT_NAME / PHP_SELF / SCRIPT_FILENAME, 404s), and what the router
 * put into $_SERVER carries over to the script (verified by tests/orchestration/test_router.py).
 *
 * It also answers the orchestrator's readiness probe, `GET /__mybb_mcp_ready` (exactly that), with an
 * empty 204 (php -S logs nothing for it). Queries hide only that exact request from the log, so no other request may wear the
 * probe's name: any other path under /__mybb_mcp (raw, percent-decoded or with its dot segments
 * resolved, e.g. /__mybb_mcp/../admin/index.php, which php -S would run as /admin/index.php) gets a
 * 404 from here and reaches no script.
 *
 * For mybb_server_request only (a request carrying the secret `start` wrote into the forum's workbench
 * folder, named by MYBB_MCP_WORKBENCH in php -S's environment), it loads workbench/request.php:
 * trace, plugins off for that request, template names in errors. Anyone else's headers are dropped.
 *
 * Everything runs inside a closure: variables and functions a router defines at the top level
 * leak into the global scope of the script it hands over to, and MyBB lives in that scope.
 */

return (static function (): bool {
    $uri = $_SERVER['REQUEST_URI'] ?? '/';
    $query_at = strpos($uri, '?');
    $path = $query_at === false ? $uri : substr($uri, 0, $query_at);

    if ($uri === '/__mybb_mcp_ready' && ($_SERVER['REQUEST_METHOD'] ?? '') === 'GET') {
        http_response_code(204);
        return true;
    }
    $decoded = rawurldecode($path);
    $segments = [];
    foreach (explode('/', str_replace('\\', '/', $decoded)) as $segment) {
        if ($segment === '..') {
            array_pop($segments);
        } elseif ($segment !== '' && $segment !== '.') {
            $segments[] = $segment;
        }
    }
    foreach ([$path, $decoded, '/' . implode('/', $segments)] as $form) {
        if (stripos(ltrim($form, '/'), '__mybb_mcp') === 0) {
            http_response_code(404);
            // php -S logs no request line for what a router answers: write one in its format, so the
            // refused request shows in the log like any other 404.
            $addr = $_SERVER['REMOTE_ADDR'] ?? '?';
            $client = (strpos($addr, ':') !== false ? "[$addr]" : $addr) . ':' . ($_SERVER['REMOTE_PORT'] ?? '0');
            error_log("$client [404]: " . ($_SERVER['REQUEST_METHOD'] ?? 'GET') . " $uri"
                . ' - refused: paths under /__mybb_mcp are reserved for the readiness probe');
            return true;
        }
    }

    // Apache and PHP-FPM always set it, empty when there is no query.
    if (!isset($_SERVER['QUERY_STRING'])) {
        $_SERVER['QUERY_STRING'] = '';
    }

    // mybb_server_request's workbench (trace, plugins off, template names in errors, queries, profile, what the
    // request printed): only for a request
    // carrying the secret `start` wrote into this server's workbench folder (named by the environment
    // mybb-mcp gave php -S). A visitor's headers are dropped and change nothing.
    $token = $_SERVER['HTTP_X_MYBB_MCP_WORKBENCH'] ?? null;
    $options = $_SERVER['HTTP_X_MYBB_MCP_OPTIONS'] ?? '';
    unset($_SERVER['HTTP_X_MYBB_MCP_WORKBENCH'], $_SERVER['HTTP_X_MYBB_MCP_OPTIONS']);
    $folder = getenv('MYBB_MCP_WORKBENCH');
    if (is_string($token) && is_string($folder) && $folder !== '' && is_file($folder . '/secret')) {
        $secret = trim((string)@file_get_contents($folder . '/secret', false, null, 0, 256));
        $options = json_decode((string)$options, true);
        if (strlen($secret) >= 32 && hash_equals($secret, $token) && is_array($options)
            && is_string($options['id'] ?? null) && preg_match('/^[0-9a-f]{16,64}$/', $options['id'])) {
            $off = $options['plugins'] ?? null;
            $off = $off === 'none' ? 'none' : (is_array($off) ? array_values(array_filter($off, static function ($name) {
                return is_string($name) && preg_match('/^[A-Za-z0-9_]{1,100}$/', $name);
            })) : null);
            require_once dirname(__DIR__) . '/workbench/request.php';
            mybb_mcp_request_begin(array('trace' => !empty($options['trace']), 'plugins' => $off,
                'queries' => !empty($options['queries']), 'profile' => !empty($options['profile'])),
                $folder . '/trace-' . $options['id'] . '-' . (int)($_SERVER['REMOTE_PORT'] ?? 0) . '.json');
        }
    }

    return false;
})();
