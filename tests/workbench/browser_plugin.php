<?php
/**
 * Browser bugs: a plugin with the mistakes a browser check must find. Its template's inline script calls
 * a function nobody defined; its AJAX handler lets PHP display a warning before its JSON (its author left
 * debugging on); a script it links to is missing; members get a second broken script of their own and an
 * AJAX call that dies on an undefined function.
 */

if(!defined("IN_MYBB"))
{
	die("Direct initialization of this file is not allowed.");
}

$plugins->add_hook("global_end", "browserbugs_global");
$plugins->add_hook("pre_output_page", "browserbugs_output");
$plugins->add_hook("xmlhttp", "browserbugs_xmlhttp");

function browserbugs_info()
{
	return array(
		"name" => "Browser bugs",
		"description" => "Script errors and a broken AJAX answer, on purpose.",
		"website" => "",
		"author" => "mybb-mcp tests",
		"authorsite" => "",
		"version" => "1.0",
		"codename" => "browserbugs",
		"compatibility" => "18*"
	);
}

function browserbugs_activate()
{
	global $db;

	$templates = array(
		"browserbugs_script" => "<script type=\"text/javascript\">\n"
			."var browserbugs_added = document.createElement(\"div\"); browserbugs_added.id = \"browserbugs_added\"; document.body.appendChild(browserbugs_added);\n"
			."browserbugs_undefined_function();\n"
			."</script>\n"
			."<script type=\"text/javascript\">\n"
			."\$(function() {\n"
			."\t\$.getJSON(\"xmlhttp.php?action=browserbugs_like\", function(data) { window.browserbugs_likes = data.likes; });\n"
			."});\n"
			."</script>\n"
			."<script type=\"text/javascript\" src=\"{\$mybb->asset_url}/jscripts/browserbugs_missing.js\"></script>",
		"browserbugs_member" => "<script type=\"text/javascript\">\n"
			."var browserbugs_member = true;\n"
			."browserbugs_member_only_function();\n"
			."</script>\n"
			."<script type=\"text/javascript\">\n"
			."\$(function() { \$.get(\"xmlhttp.php?action=browserbugs_member\"); });\n"
			."</script>",
	);
	foreach($templates as $title => $template)
	{
		$db->delete_query("templates", "title='".$db->escape_string($title)."' AND sid='-1'");
		$db->insert_query("templates", array(
			"title" => $db->escape_string($title),
			"template" => $db->escape_string($template),
			"sid" => "-1",
			"version" => "1800",
			"dateline" => TIME_NOW
		));
	}
}

function browserbugs_deactivate()
{
	global $db;

	$db->delete_query("templates", "title IN ('browserbugs_script', 'browserbugs_member') AND sid='-1'");
}

function browserbugs_global()
{
	global $mybb, $templates, $browserbugs;

	eval("\$browserbugs = \"".$templates->get("browserbugs_script")."\";");
	if($mybb->user['uid'])
	{
		eval("\$browserbugs .= \"".$templates->get("browserbugs_member")."\";");
	}
}

function browserbugs_output($contents)
{
	global $browserbugs;

	return str_replace("</body>", $browserbugs."</body>", $contents);
}

function browserbugs_xmlhttp()
{
	global $mybb;

	if($mybb->get_input("action") == "browserbugs_member")
	{
		// Members only: a function the plugin's author renamed, still called here.
		browserbugs_count_members();
	}
	if($mybb->get_input("action") != "browserbugs_like")
	{
		return;
	}

	// Debugging its author left on: PHP's own display, MyBB's error handler out of the way.
	@ini_set("display_errors", "1");
	restore_error_handler();

	$likes = $browserbugs_count + 1;
	header("Content-type: application/json; charset=UTF-8");
	echo json_encode(array("likes" => $likes));
	exit;
}
