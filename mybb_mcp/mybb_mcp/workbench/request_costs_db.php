<?php
/**
 * MyBB's database classes, each extended by the MybbMcpQueries trait (request_costs.php), for one request of
 * mybb_server_request that asked for its queries or profile. Loaded once MyBB has declared its driver's class:
 * only that class is extended. MyBB's drivers set properties they do not declare (DB_SQLite::$error_number):
 * allowed here, so that PHP 8.2's deprecation does not name this file as the culprit.
 */

if (class_exists('DB_SQLite', false) && !class_exists('MybbMcpDbSqlite', false)) {
	#[AllowDynamicProperties]
	final class MybbMcpDbSqlite extends DB_SQLite
	{
		use MybbMcpQueries;
	}
}
if (class_exists('DB_MySQLi', false) && !class_exists('MybbMcpDbMysqli', false)) {
	#[AllowDynamicProperties]
	final class MybbMcpDbMysqli extends DB_MySQLi
	{
		use MybbMcpQueries;
	}
}
if (class_exists('DB_MySQL', false) && !class_exists('MybbMcpDbMysql', false)) {
	#[AllowDynamicProperties]
	final class MybbMcpDbMysql extends DB_MySQL
	{
		use MybbMcpQueries;
	}
}
if (class_exists('DB_PgSQL', false) && !class_exists('MybbMcpDbPgsql', false)) {
	#[AllowDynamicProperties]
	final class MybbMcpDbPgsql extends DB_PgSQL
	{
		use MybbMcpQueries;
	}
}
if (class_exists('MysqlPdoDbDriver', false) && !class_exists('MybbMcpDbMysqlPdo', false)) {
	#[AllowDynamicProperties]
	final class MybbMcpDbMysqlPdo extends MysqlPdoDbDriver
	{
		use MybbMcpQueries;
	}
}
if (class_exists('PostgresPdoDbDriver', false) && !class_exists('MybbMcpDbPgsqlPdo', false)) {
	#[AllowDynamicProperties]
	final class MybbMcpDbPgsqlPdo extends PostgresPdoDbDriver
	{
		use MybbMcpQueries;
	}
}
