#!/bin/sh
# Example reducer for `lookup map --output-key` output: Hadoop sorts the mapper's KEY<TAB>LINE
# lines by KEY; this prints KEY<TAB>number of lines with that key.
exec awk -F '\t' '$1 != k { if (NR > 1) print k "\t" n; k = $1; n = 0 } { n++ } END { if (NR) print k "\t" n }'
