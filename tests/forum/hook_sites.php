<?php
/**
 * An independent scan of a forum's hook sites, by PHP's own tokenizer: every
 * ->run_hooks( and ->run_hooks_by_ref( call in every .php file under the root.
 * Prints one line per site: file, line and the name ("*" when it is built at run time).
 *
 * Usage: php hook_sites.php ROOT
 */

$root = rtrim($argv[1], '/');
$iterator = new RecursiveIteratorIterator(new RecursiveDirectoryIterator($root, FilesystemIterator::SKIP_DOTS));
$sites = array();
foreach($iterator as $file)
{
	if($file->isLink() || substr($file->getFilename(), -4) != '.php')
	{
		continue;
	}
	$relative = substr($file->getPathname(), strlen($root) + 1);
	$tokens = token_get_all(file_get_contents($file->getPathname()));
	$count = count($tokens);
	for($i = 0; $i < $count; ++$i)
	{
		if(!is_array($tokens[$i]) || $tokens[$i][0] != T_OBJECT_OPERATOR)
		{
			continue;
		}
		$j = hook_sites_next($tokens, $i);
		if($j === null || !is_array($tokens[$j]) || $tokens[$j][0] != T_STRING || !in_array($tokens[$j][1], array('run_hooks', 'run_hooks_by_ref')))
		{
			continue;
		}
		$line = $tokens[$j][2];
		$open = hook_sites_next($tokens, $j);
		if($open === null || $tokens[$open] !== '(')
		{
			continue;
		}
		$first = hook_sites_next($tokens, $open);
		$after = $first === null ? null : hook_sites_next($tokens, $first);
		$name = '*';
		if(is_array($tokens[$first]) && $tokens[$first][0] == T_CONSTANT_ENCAPSED_STRING && ($tokens[$after] === ',' || $tokens[$after] === ')'))
		{
			$name = substr($tokens[$first][1], 1, -1);
		}
		$sites[] = "{$relative}\t{$line}\t{$name}";
	}
}
sort($sites);
echo implode("\n", $sites), "\n";

/**
 * The index of the next token that is not white space or a comment.
 */
function hook_sites_next($tokens, $i)
{
	$count = count($tokens);
	for(++$i; $i < $count; ++$i)
	{
		if(is_array($tokens[$i]) && in_array($tokens[$i][0], array(T_WHITESPACE, T_COMMENT, T_DOC_COMMENT)))
		{
			continue;
		}
		return $i;
	}
	return null;
}
