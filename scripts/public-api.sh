#!/usr/bin/env bash
# Rebuilds a project's PublicAPI.Unshipped.txt from the analyzer's RS0016/RS0017 findings, for
# when an API change is intended. Review the diff: it is the public API change.
#   scripts/public-api.sh src/MlModel.Dsl
set -euo pipefail
dir=${1:?usage: scripts/public-api.sh <project folder>}
shipped="$dir/PublicAPI.Shipped.txt"; unshipped="$dir/PublicAPI.Unshipped.txt"
[ -f "$shipped" ] || echo '#nullable enable' > "$shipped"
echo '#nullable enable' > "$unshipped"
log=$(mktemp)
dotnet build "$dir" -c Release -p:TreatWarningsAsErrors=false --no-incremental 2>&1 > "$log" || true
python3 - "$log" "$unshipped" <<'PY'
import re, sys
log, out = sys.argv[1], sys.argv[2]
symbols = set()
for line in open(log, encoding='utf-8'):
    m = re.search(r"RS0016: Symbol '(.+?)' is not part of the declared public API", line)
    if m:
        symbols.add(m.group(1))
with open(out, 'a', encoding='utf-8') as f:
    for s in sorted(symbols):
        f.write(s + '\n')
print(f"{len(symbols)} symbols written to {out}")
PY
rm -f "$log"
