#!/usr/bin/env node
// The `tobira` command (package.json "bin"): Node 24 runs the TypeScript source directly.
import '../src/cli.ts';
