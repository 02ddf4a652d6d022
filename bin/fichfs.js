#!/usr/bin/env -S node --openssl-legacy-provider --max-semi-space-size=2
// The compiled CLI lives in dist/ (npm run build); this stub keeps the bin path stable.
// The Node flags above are the daemon's (src/cli/launcher.ts reads them for every other way of
// starting it; README "Memory" says what they do): OpenSSL's legacy provider for native
// Whirlpool, and a small young generation (semi-space, in MiB) for a lower, steadier RSS.
import '../dist/cli/index.js'
