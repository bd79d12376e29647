#!/usr/bin/env node
// The `kvlink` command. A committed file (not dist/), so npm links it at install time, before the build.
import "../dist/cli/main.js";
