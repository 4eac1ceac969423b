"""Where raw input comes from: files (JSONL, CSV, gzip, stdin) and HTTP bodies."""
