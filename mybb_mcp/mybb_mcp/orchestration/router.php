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
 * It also answers the orchestrator's readiness probe, /__mybb_mcp_ready, with an empty 204.
 *
 * Everything runs inside a closure: variables and functions a router defines at the top level
 * leak into the global scope of the script it hands over to, and MyBB lives in that scope.
 */

return (static function (): bool {
    $uri = $_SERVER['REQUEST_URI'] ?? '/';
    $query_at = strpos($uri, '?');
    $path = $query_at === false ? $uri : substr($uri, 0, $query_at);

    if ($path === '/__mybb_mcp_ready') {
        http_response_code(204);
        return true;
    }

    // Apache and PHP-FPM always set it, empty when there is no query.
    if (!isset($_SERVER['QUERY_STRING'])) {
        $_SERVER['QUERY_STRING'] = '';
    }

    return false;
})();
