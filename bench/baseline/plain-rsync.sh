#!/usr/bin/env bash
# BASELINE FOR THE BENCHMARKS, NOT PRODUCT CODE: the floor for scenario 4 of bench/run.ts, a plain
# `rsync -aHAX` of the dataset into an empty subvolume (same filesystem, same compression property as
# the program's target), over one SSH connection.
# Inputs: SOURCE TARGET
set -euo pipefail
rsync -aHAX "$SOURCE/" "$TARGET/"
