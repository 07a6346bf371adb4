<?php
/**
 * The extensions this PHP loads, lower-cased, as a JSON list (forum/extensions.py).
 */

echo json_encode(array_map('strtolower', get_loaded_extensions()));
