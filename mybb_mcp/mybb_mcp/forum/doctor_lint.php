<?php
/**
 * The doctor's syntax check of plugin files, in one PHP process for all of them: each file is parsed as
 * PHP parses it (token_get_all with TOKEN_PARSE), never run. Reads a JSON list of paths on stdin, answers
 * a JSON object: path => "message on line N" for each file PHP cannot parse.
 */

$paths = json_decode(stream_get_contents(STDIN), true);
$broken = array();
foreach((array)$paths as $path)
{
	$source = @file_get_contents($path);
	if($source === false)
	{
		continue;
	}
	try
	{
		token_get_all($source, TOKEN_PARSE);
	}
	catch(ParseError $error)
	{
		$broken[$path] = $error->getMessage().' on line '.$error->getLine();
	}
}
echo json_encode($broken, JSON_INVALID_UTF8_SUBSTITUTE);
