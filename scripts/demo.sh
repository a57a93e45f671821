#!/usr/bin/env bash
# npm run demo: start three local Ceph RGW gateways (installing Ceph if needed), generate a small
# tree, upload it with s3x across all three gateways and print the per-request table and summary.
# The gateways stay up afterwards; stop them with `npm run servers:down`.
set -euo pipefail
cd "$(dirname "$0")/.."
eval "$(bash scripts/ceph-rgw.sh up)"
tree=${S3X_DEMO_DIR:-/tmp/s3x-demo-tree}
if [ ! -d "$tree" ]; then
  echo "generating $tree: 200 files of 16 KiB in nested dirs + one 40 MiB file" >&2
  node scripts/s3-tool.mjs gen "$tree/many" 200 16384 10
  node scripts/s3-tool.mjs gen "$tree/large" 1 41943040
fi
first=${S3X_ENDPOINTS%% *}
node scripts/s3-tool.mjs mkbucket "$first" s3x-demo
flags=(); for e in $S3X_ENDPOINTS; do flags+=(--endpoint-url "$e"); done
run=demo/$(date +%Y%m%dT%H%M%S)
echo "\$ s3x upload $tree s3x-demo $run ${flags[*]} --multipart-threshold 16MiB --part-size 8MiB --table" >&2
node bin/s3x.js upload "$tree" s3x-demo "$run" "${flags[@]}" --multipart-threshold 16MiB --part-size 8MiB --table
echo >&2
echo "verify: node scripts/s3-tool.mjs count $first s3x-demo $run/   (objects bytes)" >&2
echo "stop the gateways: npm run servers:down" >&2
