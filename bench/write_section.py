#!/usr/bin/env python3
"""bench/write_section.py FILE SECTION: writes one "## " section of a benchmark report.

SECTION is markdown whose first line is its heading ("## Scoring"). The section of FILE under
that same heading line (up to the next "## " heading) is replaced by it, or, if FILE has none,
SECTION is appended; a missing FILE starts as "# Benchmarks". Used by bench/run_bench.sh,
bench/segments_bench.sh and bench/scoring_bench.sh for the sections they own.
"""
import sys

path, section = sys.argv[1], sys.argv[2].strip() + "\n"
heading = section.splitlines()[0]
try:
    with open(path, encoding="utf-8") as f:
        text = f.read()
except FileNotFoundError:
    text = "# Benchmarks\n"
lines = text.splitlines(keepends=True)
start = next((i for i, line in enumerate(lines) if line.rstrip("\n") == heading), None)
if start is None:
    text = text.rstrip() + "\n\n" + section
else:
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    rest = "".join(lines[end:])
    text = "".join(lines[:start]) + section + ("\n" + rest if rest else "")
with open(path, "w", encoding="utf-8") as f:
    f.write(text)
