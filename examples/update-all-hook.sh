#!/bin/sh
# How an update-all wrapper can use update-estimate at each stage of a run.
# update-estimate never fails a run: it always answers (cache, history, or defaults).
set -u
PLUGINS="apt snap flatpak"
RUN_START=$(date +%Y-%m-%dT%H:%M:%S)

# 1. Before the run: what to expect.
update-estimate estimate --plugins $PLUGINS --at "$RUN_START" --json > /tmp/estimate-before.json

# 2. After the check phase: feed what each plugin reported.
printf '%s' '{"apt": {"package_count": 12, "download_bytes": 150000000}}' |
  update-estimate estimate --plugins $PLUGINS --at "$RUN_START" --covariates - --json \
  > /tmp/estimate-checked.json

# 3. During the run: apt is done, snap has been running for 42 s.
update-estimate estimate --plugins $PLUGINS --at "$RUN_START" \
  --done apt --running snap --elapsed 42 --json > /tmp/estimate-remaining.json

# 4. Or, for a display that refreshes during the run: one `track` process for the whole run,
#    fed update-all's events as JSON lines, answering one JSON line per event.
{
  printf '{"event": "run_start", "plugins": ["apt", "snap", "flatpak"]}\n'
  printf '{"event": "plugin_start", "plugin": "apt"}\n'
  printf '{"event": "phase_start", "plugin": "apt", "phase": "DOWNLOAD"}\n'
  printf '{"event": "tick"}\n'
} | update-estimate track > /tmp/estimate-live.jsonl
