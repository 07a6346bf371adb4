<?php
/**
 * MyBB's database classes, each extended by the MybbMcpQueries trait (request_costs.php), for one request of
 * mybb_server_request that asked for its queries or profile. Loaded once MyBB has declared its driver's class:
 * only that class is extended.
 */

if (class_exists('DB_SQLite', false) && !class_exists('MybbMcpDbSqlite', false)) {
	final class MybbMcpDbSqlite extends DB_SQLite
	{
		use MybbMcpQueries;
	}
}
if (class_exists('DB_MySQLi', false) && !class_exists('MybbMcpDbMysqli', false)) {
	final class MybbMcpDbMysqli extends DB_MySQLi
	{
		use MybbMcpQueries;
	}
}
if (class_exists('DB_MySQL', false) && !class_exists('MybbMcpDbMysql', false)) {
	final class MybbMcpDbMysql extends DB_MySQL
	{
		use MybbMcpQueries;
	}
}
if (class_exists('DB_PgSQL', false) && !class_exists('MybbMcpDbPgsql', false)) {
	final class MybbMcpDbPgsql extends DB_PgSQL
	{
		use MybbMcpQueries;
	}
}
if (class_exists('MysqlPdoDbDriver', false) && !class_exists('MybbMcpDbMysqlPdo', false)) {
	final class MybbMcpDbMysqlPdo extends MysqlPdoDbDriver
	{
		use MybbMcpQueries;
	}
}
if (class_exists('PostgresPdoDbDriver', false) && !class_exists('MybbMcpDbPgsqlPdo', false)) {
	final class MybbMcpDbPgsqlPdo extends PostgresPdoDbDriver
	{
		use MybbMcpQueries;
	}
}
